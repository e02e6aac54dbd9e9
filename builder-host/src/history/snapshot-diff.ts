import type { ContextEntry } from '../../../src/protocol/index.js';
import { SNAPSHOT_DIFF_CAP } from './history.js';
import type { SnapshotDiff } from './types.js';

const same = (a: ContextEntry, b: ContextEntry) =>
  a.type === b.type &&
  a.digest === b.digest &&
  a.mode === b.mode &&
  a.link === b.link &&
  a.uid === b.uid &&
  a.gid === b.gid;

/**
 * Paths added, changed (content, type, mode, owner or link; not mtime, which BuildKit's cache
 * ignores) and removed from `prev` to `next`, each list sorted and capped; no `prev` is empty.
 */
export function diffSnapshots(
  prev: readonly ContextEntry[] | undefined,
  next: readonly ContextEntry[],
  cap = SNAPSHOT_DIFF_CAP,
): SnapshotDiff {
  const before = new Map((prev ?? []).map((e) => [e.path, e]));
  const added: string[] = [];
  const changed: string[] = [];
  for (const e of next) {
    const old = before.get(e.path);
    if (!old) added.push(e.path);
    else if (!same(old, e)) changed.push(e.path);
    before.delete(e.path);
  }
  const removed = [...before.keys()];
  const capped = (xs: string[]) => xs.sort().slice(0, cap);
  return {
    added: capped(added),
    changed: capped(changed),
    removed: capped(removed),
    addedCount: added.length,
    changedCount: changed.length,
    removedCount: removed.length,
  };
}

/** A diff with nothing in it. */
export const EMPTY_DIFF: SnapshotDiff = {
  added: [],
  changed: [],
  removed: [],
  addedCount: 0,
  changedCount: 0,
  removedCount: 0,
};
