import { fromStepImage, isFromStep } from '../../../src/protocol/dockerfile-steps.js';
import { normalizeOrKeep } from '../../../src/protocol/fleet/index.js';
import type { ImageFacts } from '../engine/index.js';

/** A vertex as the engine reports it, reduced to what this looks at. */
interface FromVertex {
  digest: string;
  name: string;
  cached: boolean;
  completedMs: number;
  error: string;
}

/** Marks the `FROM` steps whose image was already in the engine as cached. */
export interface LocalBaseCheck {
  /** The vertex as the client and the history should see it. */
  adjust<V extends FromVertex>(v: V): Promise<V>;
}

/**
 * BuildKit reports a `FROM` of an image already in the engine as done, never as cached, although
 * nothing was built or fetched: counted as a miss it would show on every identical rebuild. The
 * image's presence is asked when the vertex first appears, before BuildKit could fetch anything,
 * so a `FROM` that really pulled stays uncached. `--pull` always fetches: nothing is adjusted then.
 */
export function createLocalBaseCheck(opts: {
  inspect: (ref: string) => Promise<ImageFacts | undefined>;
  pull: boolean;
  /** The build's platform ('' for the engine's own): an image of another platform is not the base. */
  platform: string;
}): LocalBaseCheck {
  const present = new Map<string, Promise<boolean>>();
  const want = opts.platform ? normalizeOrKeep(opts.platform) : '';
  const lookup = (digest: string, ref: string): Promise<boolean> => {
    let p = present.get(digest);
    if (!p) {
      p = opts
        .inspect(ref)
        .then(
          (img) => img !== undefined && (!want || !img.platform || normalizeOrKeep(img.platform) === want),
        )
        .catch(() => false);
      present.set(digest, p);
    }
    return p;
  };
  return {
    async adjust(v) {
      if (opts.pull || !isFromStep(v.name)) return v;
      const ref = fromStepImage(v.name);
      if (!ref) return v;
      const local = lookup(v.digest, ref);
      if (v.cached || v.completedMs <= 0 || v.error) return v;
      return (await local) ? { ...v, cached: true } : v;
    },
  };
}
