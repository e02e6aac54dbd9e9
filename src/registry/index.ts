/** Client side of registries: Docker config credentials, the HTTP API v2 and multi-platform indexes. */

export { type BaseImageRegistries, fromRegistries } from './base-images.js';
export { type BuildAuth, type BuildAuthInput, registryAuthForBuild } from './build-auth.js';
export {
  type AuthChallenge,
  createRegistryClient,
  type FetchedManifest,
  isDigestReference,
  MANIFEST_ACCEPT,
  parseAuthenticate,
  type RegistryClient,
  type RegistryClientOptions,
  sha256Digest,
  verifyDigest,
} from './client.js';
export {
  type CredentialHelperRunner,
  configuredRegistries,
  credentialsFor,
  type DockerConfigFile,
  dockerConfigPath,
  loadDockerConfig,
  type RegistryAuth,
  runCredentialHelper,
} from './credentials.js';
export {
  buildImageIndex,
  DOCKER_MANIFEST_LIST,
  DOCKER_MANIFEST_V2,
  type ImageIndex,
  type IndexChild,
  type IndexPlatform,
  OCI_INDEX,
  OCI_MANIFEST,
  platformObject,
} from './image-index.js';
export {
  configKeyHost,
  DOCKER_HUB,
  DOCKER_HUB_CONFIG_KEY,
  type ImageReference,
  InvalidReferenceError,
  isInsecureRegistry,
  NAME_TOTAL_LENGTH_MAX,
  parseReference,
  registryBaseUrl,
  registryOf,
  splitTagReference,
} from './reference.js';
