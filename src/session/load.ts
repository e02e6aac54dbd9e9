import type { LocalEngine } from '../docker/index.js';
import type { BuilderSession } from './client.js';

/** Archive bytes handed to the local engine so far, and the expected total (0 when unknown). */
export type LoadProgressListener = (bytes: number, bytesTotal: number) => void;

/** What loading one image into the local engine did. */
export interface LoadOutcome {
  /** Archive bytes sent to the local engine (0 when it only tagged). */
  bytes: number;
  imageSize: number;
  layersSent: number;
  layersTotal: number;
  /** Why every layer was sent, or why nothing was: empty when neither needs saying. */
  note: string;
  /** The engine had the image already, so it was only tagged. */
  alreadyPresent: boolean;
}

/**
 * Loads a built image into the local engine, sending only the layers it lacks, and tags it.
 * An engine that already has the image id is only tagged; the containerd image store gets every layer.
 */
export async function loadImage(
  session: Pick<BuilderSession, 'exportImage'>,
  local: LocalEngine,
  image: { imageId: string; imageSize?: number; diffIds?: string[] },
  tags: string[],
  signal: AbortSignal,
  onProgress?: LoadProgressListener,
): Promise<LoadOutcome> {
  const { imageId } = image;
  const layersTotal = image.diffIds?.length ?? 0;
  // Both are one cheap request: asked together, not one after the other.
  const [present, store] = await Promise.all([local.hasImage(imageId), local.imageStore()]);
  if (present) {
    await local.tag(imageId, tags);
    return {
      bytes: 0,
      imageSize: image.imageSize ?? 0,
      layersSent: 0,
      layersTotal,
      // Callers say "already in the local engine" from alreadyPresent: a note would repeat it.
      note: '',
      alreadyPresent: true,
    };
  }
  const all = store === 'containerd';
  // With the image's diff ids, only its own layers are looked up (the images the tags name and
  // those seen before, one inspect each); without them, every image of the engine is.
  const have = all
    ? []
    : [...(image.diffIds?.length ? await local.heldChainIds(image.diffIds, tags) : await local.chainIds())];
  const { stream, summary } = session.exportImage(imageId, have, all, signal);
  // The archive's size is known only at its end; when every layer goes, the image size is close.
  const expected = have.length === 0 ? (image.imageSize ?? 0) : 0;
  const { bytes } = await local.load(stream, onProgress && ((n) => onProgress(n, expected)));
  const s = await summary;
  await local.tag(imageId, tags);
  if (image.diffIds?.length) local.remember(imageId, image.diffIds);
  return {
    bytes,
    imageSize: s.imageSize,
    layersSent: s.layersSent,
    layersTotal: s.layersTotal,
    note: all ? 'the containerd image store needs every layer file, so the whole image was sent' : '',
    alreadyPresent: false,
  };
}
