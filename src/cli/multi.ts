/** What a build of several platforms adds to the one pipeline (build.ts): the image index. */
import {
  buildImageIndex,
  createRegistryClient,
  DOCKER_MANIFEST_V2,
  type ImageReference,
  type IndexChild,
  type RegistryAuth,
} from '../registry/index.js';
import { DepotError } from '../session/index.js';
import type { PushedRef } from './build-inputs.js';

/** linux/arm64/v8 and linux/arm64 are the same machine for loading purposes. */
export function samePlatform(a: string, b: string): boolean {
  const [ao, aa] = a.split('/');
  const [bo, ba] = b.split('/');
  return ao === bo && aa === ba;
}

/**
 * Pushes one image index per tag from this client through the Registry HTTP API v2, over the
 * images each platform's builder pushed under that tag; returns the first index's digest.
 */
export async function pushImageIndexes(
  refs: readonly ImageReference[],
  results: readonly { target: { platform: string }; platform: string; pushed: PushedRef[] }[],
  registryAuth: Record<string, RegistryAuth>,
  quiet: boolean | undefined,
  signal: AbortSignal,
): Promise<string> {
  let indexDigest = '';
  for (const ref of refs) {
    const children: IndexChild[] = [];
    const client = createRegistryClient({ host: ref.registry, auth: registryAuth[ref.registry] });
    for (const r of results) {
      const p = r.pushed.find((x) => x.repository === ref.repository && x.tag === ref.tag);
      if (!p)
        throw new DepotError(
          'push_failed',
          `[${r.target.platform}] the builder reported no push to ${ref.repository}`,
        );
      let { mediaType, size } = p;
      if (!mediaType || !size) {
        // The builder could not tell (e.g. the containerd image store): ask the registry.
        const m = await client.getManifest(ref.path, p.digest, signal);
        mediaType = m?.mediaType || DOCKER_MANIFEST_V2;
        size = m?.body.length ?? size;
      }
      children.push({ digest: p.digest, size, mediaType, platform: r.platform });
    }
    const index = buildImageIndex(children);
    const digest = await client.putManifest(ref.path, ref.tag, index.mediaType, index.body, signal);
    indexDigest ||= digest;
    if (!quiet)
      process.stderr.write(
        `pushed ${ref.repository}:${ref.tag}@${digest} (${index.mediaType.includes('docker') ? 'manifest list' : 'OCI index'}: ${children.map((c) => c.platform).join(', ')})\n`,
      );
  }
  return indexDigest;
}
