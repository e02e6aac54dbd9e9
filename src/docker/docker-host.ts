import { parseReference } from '../registry/index.js';
import { LocalEngineError } from './errors.js';

/**
 * Splits `name[:tag]` into repo (as written) and tag (default `latest`) with the one reference
 * parser; refuses digests and anything docker would refuse (LocalEngineError code invalid_tag).
 */
export function parseImageRef(ref: string): { repo: string; tag: string } {
  try {
    const r = parseReference(ref);
    return { repo: r.repository, tag: r.tag };
  } catch (err) {
    throw new LocalEngineError('invalid_tag', (err as Error).message, { cause: err });
  }
}
