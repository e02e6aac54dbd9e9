import { createHash, randomBytes } from 'node:crypto';
import type { ContextEntry } from '../../../src/protocol/index.js';

/**
 * BuildKit keeps a project's last build context under a shared key and, on the next build, fetches
 * only the files whose stat (size, mtime, mode, owner) changed: a file whose content changed but
 * whose size and mtime did not (an archive unpacked with its mtimes, or a client that sends any
 * mtime it likes) would be built from the old bytes. The builder knows every file's digest, so it
 * notices exactly that case and moves the project to a fresh key, where BuildKit fetches everything.
 *
 * Keys are also private to this builder process (a random part, not derived from the project name
 * alone): another builder on the same engine serving a project of the same name never shares its
 * context, and after a restart, when the builder cannot know what BuildKit kept, it starts afresh.
 */
export interface ContextKeys {
  /** The shared key for a build of `project` with these entries. */
  keyFor(project: string, entries: readonly ContextEntry[]): string;
}

interface Served {
  generation: number;
  /** path → what BuildKit was last given under the current key */
  files: Map<string, { size: number; mtimeMs: number; digest: string }>;
}

/** How many projects' served contexts are remembered (the least recently built are forgotten). */
const MAX_PROJECTS = 256;

export function createContextKeys(): ContextKeys {
  const salt = randomBytes(16).toString('hex');
  const served = new Map<string, Served>();
  return {
    keyFor(project, entries) {
      let s = served.get(project);
      served.delete(project);
      if (!s) s = { generation: 0, files: new Map() };
      let stale = false;
      for (const e of entries) {
        if (e.type !== 'file') continue;
        const before = s.files.get(e.path);
        if (before && before.size === e.size && before.mtimeMs === e.mtimeMs && before.digest !== e.digest) {
          stale = true;
          break;
        }
      }
      if (stale) s = { generation: s.generation + 1, files: new Map() };
      for (const e of entries)
        if (e.type === 'file') s.files.set(e.path, { size: e.size, mtimeMs: e.mtimeMs, digest: e.digest });
      served.set(project, s);
      if (served.size > MAX_PROJECTS) served.delete(served.keys().next().value!);
      return createHash('sha256')
        .update(`depot-context\0${salt}\0${project}\0${s.generation}`)
        .digest('hex')
        .slice(0, 32);
    },
  };
}
