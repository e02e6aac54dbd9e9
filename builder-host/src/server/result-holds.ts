/**
 * Build results the engine collection must not touch yet, whatever their age.
 *
 * A result's name on the engine (`results:<id>` in the project's namespace) is what makes the image
 * the project's: Export answers only for images that carry one. The collection ages names by their
 * tag time, so with a short keep window it could remove a name between the build's end and the
 * client's Export, and `--load` would find nothing. A hold closes that gap: a build whose client
 * will load the result holds it from the moment it is named until the project's Export of it ends,
 * or `idleMs` after the build when no Export comes (the client had the image already, or went
 * away). A build also holds its result while it names and pushes it, and an Export what it streams.
 *
 * Holds are in memory and synchronous, like the store's pins: the collector asks in the same tick
 * as it removes a name. A builder restart forgets them, and its clients' calls with them.
 */
export interface ResultHolds {
  /** Holds an image while a call uses it (a build naming and pushing its result, an Export); call the result to end it. */
  use(project: string, imageId: string): () => void;
  /** Holds a built image for the project's coming Export, at most `idleMs`. */
  awaitLoad(project: string, imageId: string): void;
  /** The project's Export of the image ended: one awaited load is served. */
  loaded(project: string, imageId: string): void;
  /** True while any project holds this image id. */
  held(imageId: string): boolean;
}

/** How long a result waits for its Export by default. */
export const RESULT_HOLD_MS = 10 * 60_000;

/** A hold registry; `now` is injectable for tests. */
export function createResultHolds(idleMs = RESULT_HOLD_MS, now: () => number = Date.now): ResultHolds {
  interface Hold {
    /** Loads announced by builds and not yet served by an Export. */
    pending: number;
    /** When the pending loads stop holding. */
    until: number;
    /** Calls using the image now. */
    uses: number;
  }
  const holds = new Map<string, Hold>();
  const keyOf = (project: string, imageId: string) => `${project}\0${imageId}`;
  const live = (h: Hold, t: number) => h.uses > 0 || (h.pending > 0 && h.until >= t);
  const get = (key: string): Hold => {
    let h = holds.get(key);
    if (!h) {
      h = { pending: 0, until: 0, uses: 0 };
      holds.set(key, h);
    }
    return h;
  };
  return {
    awaitLoad(project, imageId) {
      const t = now();
      // Without a collection nothing else would sweep expired holds.
      for (const [key, h] of holds) if (!live(h, t)) holds.delete(key);
      const h = get(keyOf(project, imageId));
      if (h.until < t) h.pending = 0; // earlier builds' loads that never came
      h.pending++;
      h.until = t + idleMs;
    },
    use(project, imageId) {
      const key = keyOf(project, imageId);
      get(key).uses++;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        const h = get(key);
        h.uses--;
        if (!live(h, now())) holds.delete(key);
      };
    },
    loaded(project, imageId) {
      const key = keyOf(project, imageId);
      const h = holds.get(key);
      if (!h) return;
      if (h.pending > 0) h.pending--;
      if (!live(h, now())) holds.delete(key);
    },
    held(imageId) {
      const t = now();
      let found = false;
      for (const [key, h] of holds) {
        if (!live(h, t)) {
          holds.delete(key);
          continue;
        }
        if (key.endsWith(`\0${imageId}`)) found = true;
      }
      return found;
    },
  };
}
