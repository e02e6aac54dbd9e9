/**
 * The registry credentials one build carries: those of the push tags' registries (with --push)
 * and those of the registries its Dockerfile pulls from (private base images).
 */
import { fromRegistries } from './base-images.js';
import {
  type CredentialHelperRunner,
  configuredRegistries,
  credentialsFor,
  type DockerConfigFile,
  loadDockerConfig,
  type RegistryAuth,
} from './credentials.js';
import { parseReference } from './reference.js';

export interface BuildAuthInput {
  /** Tags the build pushes (empty without --push): their credentials are required. */
  pushTags: string[];
  /** The Dockerfile's text; its FROM images' registries get credentials when the config has them. */
  dockerfile: string;
  buildArgs: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  config?: DockerConfigFile;
  runHelper?: CredentialHelperRunner;
}

export interface BuildAuth {
  /** By registry host ("docker.io" for Docker Hub), as BuildRequest.registry_auth carries it. */
  auth: Record<string, RegistryAuth>;
  /**
   * Registries the build pulls from whose credentials could not be read (e.g. a credential
   * helper that is not installed): the build goes on anonymously for them. One line each, no
   * secret in them.
   */
  warnings: string[];
  /** The registries asked for, for messages and tests. */
  hosts: string[];
}

/**
 * Credentials for a build. Push registries fail loudly, as before; a pull-only registry whose
 * credentials cannot be read is a warning (most base images are public). When a FROM reference
 * depends on a value only the build knows, every registry of the Docker config is included.
 */
export async function registryAuthForBuild(input: BuildAuthInput): Promise<BuildAuth> {
  const pushHosts = [...new Set(input.pushTags.map((t) => parseReference(t).registry))];
  let config: DockerConfigFile;
  try {
    config = input.config ?? (await loadDockerConfig(input.env));
  } catch (err) {
    // Pushing needs the config; pulling goes on anonymously without it.
    if (pushHosts.length) throw err;
    return { auth: {}, warnings: [`${(err as Error).message} (pulling anonymously)`], hosts: [] };
  }
  const opts = { config, runHelper: input.runHelper };
  const auth = pushHosts.length ? await credentialsFor(pushHosts, opts) : {};
  const bases = fromRegistries(input.dockerfile, input.buildArgs);
  const pullHosts = [...bases.hosts, ...(bases.unresolved ? configuredRegistries(config) : [])].filter(
    (h, i, all) => !pushHosts.includes(h) && all.indexOf(h) === i,
  );
  const warnings: string[] = [];
  for (const host of pullHosts) {
    try {
      Object.assign(auth, await credentialsFor([host], opts));
    } catch (err) {
      warnings.push(`no credentials for ${host} (pulling anonymously): ${(err as Error).message}`);
    }
  }
  return { auth, warnings, hosts: [...pushHosts, ...pullHosts] };
}
