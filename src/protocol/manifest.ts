/** Kind of one build-context path. */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink';

/** One path of a build context, in the canonical form both sides agree on. */
export interface ContextEntry {
  /** Relative, '/'-separated; never empty, absolute, '..' or containing NUL. */
  path: string;
  type: EntryKind;
  /** mode & 0o7777 */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of a regular file, 0 otherwise. */
  size: number;
  mtimeMs: number;
  /** "sha256:<hex>" for files (and hardlinks, copied from their source), "" otherwise. */
  digest: string;
  /** Symlink target or hardlink source path, "" otherwise. */
  link: string;
}

/** A manifest entry or path the builder must refuse, with the reason. */
export class ManifestError extends Error {
  readonly code = 'invalid_manifest';
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** Returns a reason when `path` is not a safe relative context path, else undefined. */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.includes('\0')) return 'path contains NUL';
  if (path.startsWith('/')) return 'path is absolute';
  if (path.endsWith('/')) return 'path ends with /';
  for (const part of path.split('/')) {
    if (part === '..') return 'path contains ..';
    if (part === '.' || part === '') return 'path is not canonical';
  }
  return undefined;
}

/**
 * Compares paths by UTF-8 bytes, the order tar and the snapshot id use — without encoding them:
 * UTF-8 byte order is code point order, which differs from UTF-16 code unit order only between
 * surrogates (U+D800–DFFF) and U+E000–FFFF, so those two ranges are swapped before comparing.
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/** Why one entry is not well formed on its own (path, digest, size, mode, link), or undefined. */
export function entryProblem(e: ContextEntry): string | undefined {
  const why = unsafePathReason(e.path);
  if (why) return `${why}: ${JSON.stringify(e.path)}`;
  if (e.type === 'file' && !DIGEST_RE.test(e.digest)) return `bad digest for ${JSON.stringify(e.path)}`;
  if (!Number.isSafeInteger(e.size) || e.size < 0) return `bad size for ${JSON.stringify(e.path)}`;
  if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777)
    return `bad mode for ${JSON.stringify(e.path)}`;
  if (e.type === 'symlink' && e.link.includes('\0'))
    return `symlink target of ${JSON.stringify(e.path)} contains NUL`;
  return undefined;
}

/** Throws ManifestError unless every entry is well formed, unique, with parents present and links resolvable. */
export function validateManifest(entries: readonly ContextEntry[]): void {
  const byPath = new Map<string, ContextEntry>();
  for (const e of entries) {
    const why = entryProblem(e);
    if (why) throw new ManifestError(`invalid manifest: ${why}`);
    if (byPath.has(e.path))
      throw new ManifestError(`invalid manifest: duplicate path ${JSON.stringify(e.path)}`);
    byPath.set(e.path, e);
  }
  for (const e of entries) {
    const slash = e.path.lastIndexOf('/');
    if (slash > 0) {
      const parent = byPath.get(e.path.slice(0, slash));
      if (parent?.type !== 'dir')
        throw new ManifestError(`invalid manifest: parent of ${JSON.stringify(e.path)} is not a directory`);
    }
    if (e.type === 'hardlink') {
      const src = byPath.get(e.link);
      if (src?.type !== 'file')
        throw new ManifestError(`invalid manifest: hardlink ${JSON.stringify(e.path)} has no file source`);
      // The builder reads a hardlink's bytes by its digest: it must be its source's, or a hardlink
      // could name any blob without the manifest's files vouching for it.
      if (e.digest !== src.digest || e.size !== src.size)
        throw new ManifestError(
          `invalid manifest: hardlink ${JSON.stringify(e.path)} does not match its source ${JSON.stringify(e.link)}`,
        );
    }
  }
}

/** Sorts entries in canonical (byte) order; returns a new array. */
export function sortEntries(entries: readonly ContextEntry[]): ContextEntry[] {
  // Manifests usually arrive sorted: checking is linear, sorting is not.
  let sorted = true;
  for (let i = 1; i < entries.length && sorted; i++)
    if (comparePaths(entries[i - 1]!.path, entries[i]!.path) > 0) sorted = false;
  return sorted ? [...entries] : [...entries].sort((a, b) => comparePaths(a.path, b.path));
}

/** The canonical serialisation of a manifest: one JSON array per entry, in byte order of path. */
export function canonicalManifest(entries: readonly ContextEntry[]): string {
  return sortEntries(entries)
    .map((e) => JSON.stringify([e.path, e.type, e.mode, e.uid, e.gid, e.size, e.mtimeMs, e.digest, e.link]))
    .join('\n');
}

/** Parses a canonical manifest back into entries. */
export function parseCanonicalManifest(text: string): ContextEntry[] {
  if (text.length === 0) return [];
  return text.split('\n').map((line) => {
    const [path, type, mode, uid, gid, size, mtimeMs, digest, link] = JSON.parse(line) as [
      string,
      EntryKind,
      number,
      number,
      number,
      number,
      number,
      string,
      string,
    ];
    return { path, type, mode, uid, gid, size, mtimeMs, digest, link };
  });
}

/** What changed from `base` to `next`: entries added or changed, and paths removed. */
export interface ManifestDiff {
  upserts: ContextEntry[];
  removals: string[];
}

function sameEntry(a: ContextEntry, b: ContextEntry): boolean {
  return (
    a.type === b.type &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.digest === b.digest &&
    a.link === b.link
  );
}

/**
 * Computes the delta that turns `base` into `next`, both in sortEntries order (scans and stored
 * manifests are): one merge walk, where an entry object shared by both (an incremental scan keeps
 * the unchanged ones) costs one comparison.
 */
export function diffManifests(base: readonly ContextEntry[], next: readonly ContextEntry[]): ManifestDiff {
  const a = base;
  const b = next;
  const upserts: ContextEntry[] = [];
  const removals: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x !== undefined && x === y) {
      i++;
      j++;
      continue;
    }
    const c = x === undefined ? 1 : y === undefined ? -1 : comparePaths(x.path, y.path);
    if (c < 0) {
      removals.push(x!.path);
      i++;
    } else if (c > 0) {
      upserts.push(y!);
      j++;
    } else {
      if (!sameEntry(x!, y!)) upserts.push(y!);
      i++;
      j++;
    }
  }
  return { upserts, removals };
}

/** Applies a delta to a manifest; removing a directory removes what is under it. */
export function applyDiff(base: readonly ContextEntry[], diff: ManifestDiff): ContextEntry[] {
  const map = new Map(base.map((e) => [e.path, e]));
  for (const path of diff.removals) {
    const why = unsafePathReason(path);
    if (why) throw new ManifestError(`invalid manifest: ${why}: ${JSON.stringify(path)}`);
    map.delete(path);
    const prefix = `${path}/`;
    for (const key of map.keys()) if (key.startsWith(prefix)) map.delete(key);
  }
  for (const e of diff.upserts) map.set(e.path, e);
  return sortEntries([...map.values()]);
}

/** Index of the first entry of sorted `entries` whose path is not below `path` in byte order. */
function lowerBound(entries: readonly ContextEntry[], path: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePaths(entries[mid]!.path, path) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `applyDiff` for a sorted base and a small delta already validated (by `applyDelta`): binary
 * searches instead of a map of every path, the result sorted like the base.
 */
export function patchEntries(sorted: readonly ContextEntry[], diff: ManifestDiff): ContextEntry[] {
  const out = [...sorted];
  for (const path of diff.removals) {
    const at = lowerBound(out, path);
    if (out[at]?.path === path) out.splice(at, 1);
    // Everything under a directory shares the prefix "path/": one contiguous run in byte order.
    const from = lowerBound(out, `${path}/`);
    let to = from;
    while (to < out.length && out[to]!.path.startsWith(`${path}/`)) to++;
    if (to > from) out.splice(from, to - from);
  }
  for (const e of diff.upserts) {
    const at = lowerBound(out, e.path);
    if (out[at]?.path === e.path) out[at] = e;
    else out.splice(at, 0, e);
  }
  return out;
}
