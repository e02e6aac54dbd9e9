import { DepotError } from '../errors/index.js';
import { sha256Digest } from './client.js';

export const DOCKER_MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** The platform object of an index entry. */
export interface IndexPlatform {
  architecture: string;
  os: string;
  variant?: string;
}

/** One platform's image manifest, as pushed. */
export interface IndexChild {
  digest: string;
  size: number;
  mediaType: string;
  /** "os/arch[/variant]" */
  platform: string;
}

/** An image index ready to PUT: its exact bytes, media type and digest. */
export interface ImageIndex {
  mediaType: string;
  body: Buffer;
  digest: string;
}

/** "linux/arm64/v8" → {os, architecture, variant}. */
export function platformObject(platform: string): IndexPlatform {
  const [os, architecture, variant] = platform.split('/');
  if (!os || !architecture)
    throw new DepotError(
      'invalid_platform',
      `invalid platform ${JSON.stringify(platform)} for an image index`,
    );
  return variant ? { architecture, os, variant } : { architecture, os };
}

/**
 * Builds the index that lists every platform's manifest: a Docker manifest list when every child
 * is a Docker schema 2 manifest (what engines with the graphdriver store push), else an OCI index.
 */
export function buildImageIndex(children: IndexChild[]): ImageIndex {
  if (children.length === 0) throw new DepotError('push_failed', 'an image index needs at least one image');
  const seen = new Set<string>();
  for (const c of children) {
    if (!/^sha256:[0-9a-f]{64}$/.test(c.digest))
      throw new DepotError('push_failed', `invalid manifest digest ${JSON.stringify(c.digest)}`);
    if (seen.has(c.platform))
      throw new DepotError('invalid_platform', `platform ${c.platform} appears twice in the image index`);
    seen.add(c.platform);
  }
  const docker = children.every((c) => c.mediaType === DOCKER_MANIFEST_V2);
  const mediaType = docker ? DOCKER_MANIFEST_LIST : OCI_INDEX;
  const doc = {
    schemaVersion: 2,
    mediaType,
    manifests: children.map((c) => ({
      mediaType: c.mediaType || OCI_MANIFEST,
      size: c.size,
      digest: c.digest,
      platform: platformObject(c.platform),
    })),
  };
  const body = Buffer.from(JSON.stringify(doc, null, 2));
  return { mediaType, body, digest: sha256Digest(body) };
}
