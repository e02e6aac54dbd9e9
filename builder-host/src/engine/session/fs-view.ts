/**
 * What a BuildKit session serves for one named directory: the entries of a snapshot, filtered the
 * way BuildKit asks (include / exclude patterns, follow paths) and ordered the way fsutil walks,
 * with each entry's stat in fsutil's wire form (Go os.FileMode bits, nanosecond mtime).
 */
import {
  type ContextEntry,
  compileInclude,
  includeMatch,
  PatternMatcher,
  resolveFollowPaths,
} from '../../../../src/protocol/index.js';

/** fsutil's Stat message, as sent on the wire. */
export interface WireStat {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Nanoseconds since the epoch (beyond 2^53, hence a bigint). */
  modTime: bigint;
  linkname: string;
}

/** One entry of a view; `digest` names the blob of a regular file, '' for anything else. */
export interface ViewEntry {
  stat: WireStat;
  digest: string;
}

/** The filters BuildKit sends with a DiffCopy (gRPC metadata). */
export interface ViewFilter {
  includes: readonly string[];
  excludes: readonly string[];
  followPaths: readonly string[];
}

// Go os.FileMode bits.
const MODE_DIR = 0x80000000;
const MODE_SYMLINK = 0x08000000;
const MODE_SETUID = 0x00800000;
const MODE_SETGID = 0x00400000;
const MODE_STICKY = 0x00100000;

/** The Go os.FileMode of an entry (unix permission and special bits, plus the type bit). */
export function goFileMode(e: ContextEntry): number {
  let m = e.mode & 0o777;
  if (e.mode & 0o4000) m |= MODE_SETUID;
  if (e.mode & 0o2000) m |= MODE_SETGID;
  if (e.mode & 0o1000) m |= MODE_STICKY;
  if (e.type === 'dir') m |= MODE_DIR;
  if (e.type === 'symlink') m = MODE_SYMLINK | 0o777;
  // uint32 on the wire: keep the top bit without going negative.
  return m >>> 0;
}

/**
 * fsutil's walk order: depth first, siblings by name bytes — the byte order of paths in which '/'
 * sorts before every other character. Compares UTF-16 strings as UTF-8 bytes would compare.
 */
export function compareWalkOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 47) return -1;
    if (y === 47) return 1;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

function wireStat(e: ContextEntry, linkname: string): WireStat {
  const ns = BigInt(Math.round(e.mtimeMs * 1000)) * 1000n;
  const size = e.type === 'symlink' ? Buffer.byteLength(e.link) : e.type === 'dir' ? 0 : e.size;
  return {
    path: e.path,
    mode: goFileMode(e),
    // Like the docker CLI's context, owned by root whatever the client's ids were.
    uid: 0,
    gid: 0,
    size,
    modTime: ns,
    linkname: e.type === 'symlink' ? e.link : linkname,
  };
}

/**
 * The entries BuildKit receives for `entries` under `filter`, in fsutil walk order, every parent
 * directory before its children (fsutil's receiver refuses anything else).
 */
export function buildView(entries: readonly ContextEntry[], filter: ViewFilter): ViewEntry[] {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const includeTexts = [...filter.includes];
  if (filter.followPaths.length)
    includeTexts.push(...resolveFollowPaths((p) => byPath.get(p), filter.followPaths));
  const includes = includeTexts.map(compileInclude);
  const useIncludes = filter.includes.length > 0 || filter.followPaths.length > 0;
  const excludes = filter.excludes.length ? new PatternMatcher(filter.excludes) : undefined;

  const sorted = [...entries].sort((a, b) => compareWalkOrder(a.path, b.path));
  const kept = new Set<string>();
  // Directories a walk does not enter: paths below them are skipped.
  const skipped: string[] = [];
  const included: string[] = [];
  const under = (list: string[], path: string) => {
    while (list.length && !path.startsWith(`${list[list.length - 1]}/`)) list.pop();
    return list.length > 0;
  };
  for (const e of sorted) {
    if (under(skipped, e.path)) continue;
    if (useIncludes && !under(included, e.path)) {
      const m = includeMatch(includes, e.path);
      if (!m) {
        if (e.type === 'dir') skipped.push(e.path);
        continue;
      }
      if (m === 'full' && e.type === 'dir') included.push(e.path);
      if (m === 'partial') continue; // a directory kept only if something below it is
    }
    if (excludes?.matches(e.path)) {
      if (e.type === 'dir' && !excludes.descendsInto(e.path)) skipped.push(e.path);
      continue;
    }
    kept.add(e.path);
  }
  // Every kept path's parents are sent too.
  for (const path of [...kept]) {
    let slash = path.lastIndexOf('/');
    while (slash > 0) {
      const parent = path.slice(0, slash);
      if (kept.has(parent)) break;
      kept.add(parent);
      slash = parent.lastIndexOf('/');
    }
  }
  const out: ViewEntry[] = [];
  for (const e of sorted) {
    if (!kept.has(e.path)) continue;
    // A hard link whose source is not sent becomes a copy of it.
    const linked = e.type === 'hardlink' && kept.has(e.link) ? e.link : '';
    out.push({
      stat: wireStat(e, linked),
      digest: e.type === 'file' || e.type === 'hardlink' ? e.digest : '',
    });
  }
  return out;
}

/** A one-file directory (a Dockerfile given from stdin or from outside the context). */
export function singleFileEntries(name: string, size: number, digest: string): ContextEntry[] {
  // A content-derived mtime: BuildKit compares size and mtime to decide whether to re-fetch.
  const mtimeMs = Number.parseInt(digest.slice(7, 17), 16);
  return [{ path: name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtimeMs, digest, link: '' }];
}
