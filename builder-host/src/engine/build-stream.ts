import { classifyBuildError } from './errors.js';
import { decodeTrace } from './trace.js';
import type { EngineEvent } from './types.js';

interface BuildLine {
  id?: string;
  aux?: unknown;
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Turns the JSON lines of a `POST /build?version=2` answer into engine events ending with one
 * result: the image id from `moby.image.id`, a failure from an in-stream `error`.
 */
export async function* buildStreamEvents(
  input: AsyncIterable<string> | Iterable<string>,
  /** image: false for a build exported elsewhere (-o local|tar): it ends well without an image id. */
  opts: { image: boolean } = { image: true },
): AsyncGenerator<EngineEvent> {
  let imageId = '';
  for await (const line of input) {
    let j: BuildLine;
    try {
      j = JSON.parse(line) as BuildLine;
    } catch {
      yield { type: 'message', text: line };
      continue;
    }
    if (j.errorDetail || j.error) {
      const error = j.errorDetail?.message || j.error || 'build failed';
      yield { type: 'result', ok: false, imageId: '', error, errorCode: classifyBuildError(error) };
      return;
    }
    if (j.id === 'moby.buildkit.trace' && typeof j.aux === 'string') {
      yield* decodeTrace(j.aux);
    } else if (j.id === 'moby.image.id' && j.aux && typeof j.aux === 'object') {
      const id = (j.aux as { ID?: unknown }).ID;
      if (typeof id === 'string') imageId = id;
    } else if (typeof j.stream === 'string') {
      const text = j.stream.replace(/\n$/, '');
      if (text) yield { type: 'message', text };
    } else if (typeof j.status === 'string' && j.status) {
      yield { type: 'message', text: j.status };
    }
  }
  if (imageId || !opts.image) yield { type: 'result', ok: true, imageId, error: '', errorCode: '' };
  else
    yield {
      type: 'result',
      ok: false,
      imageId: '',
      error: 'the engine ended the build without an image id',
      errorCode: 'build_failed',
    };
}
