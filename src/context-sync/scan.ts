/**
 * Walks a build context the way `docker build` (BuildKit, docker 20.10's fsutil) does and turns it
 * into a canonical manifest, hashing only files whose stat changed since the last scan.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ContextEntry } from '../protocol/index.js';
import { ContextError, errnoCode, isVanished } from './errors.js';
import {
  defaultIndexDir,
  emptyRecords,
  type IndexRecords,
  indexFileFor,
  isRecord,
  loadIndex,
  saveIndex,
} from './hash-index.js';
import { PatternMatcher, readIgnorePatterns } from './ignore.js';

/** How to scan a context. */
export interface ScanOptions {
  /** Absolute or relative path of the context. */
  contextDir: string;
  /** Absolute path of the Dockerfile in use (to find "<Dockerfile>.dockerignore"); may be outside the context. */
  dockerfile?: string;
  /** Where the hash index lives; default $XDG_CACHE_HOME/depot/index or ~/.cache/depot/index. */
  indexDir?: string;
  /** Neither read nor write the index. */
  noIndex?: boolean;
}

/** The result of one scan: the manifest plus where to read each blob from. */
export interface ContextScan {
  /** Realpath of the context. */
  contextDir: string;
  /** Sorted canonically (sortEntries order). */
  entries: ContextEntry[];
  /** digest -> absolute path of a file with that content. */
  blobs: Map<string, string>;
  stats: { entries: number; hashed: number; bytesHashed: number; reused: number; ms: number };
}

const FS_CONCURRENCY = 64;
const HASH_CONCURRENCY = 32;
const SMALL_FILE = 1024 * 1024;
const CHUNK = 1024 * 1024;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

/** Runs at most `n` of the given tasks at once; a released slot passes straight to the next waiter. */
function createLimiter(n: number): Limiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return async (fn) => {
    if (active < n) active++;
    else await new Promise<void>((r) => waiting.push(r));
    try {
      return await fn();
    } finally {
      release();
    }
  };
}

/**
 * UTF-8 byte order without encoding: equal to comparePaths from protocol. UTF-16 order differs from
 * code point order only when a surrogate meets a unit in U+E000..U+FFFF, so remap those two ranges.
 */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

interface Found {
  rel: string;
  abs: string;
  kind: 'file' | 'dir' | 'symlink';
  st: Stats;
  link: string;
}

function unreadable(rel: string, err: unknown): ContextError {
  const code = errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
  return new ContextError('context_unreadable', `cannot read build context path ${JSON.stringify(rel)}: ${code}`, {
    cause: err,
  });
}

/**
 * Collects every path the context sends. The rule (docker 20.10's fsutil.Walk with exclude patterns):
 * - a non-directory matched by the patterns is skipped;
 * - a directory matched by the patterns is skipped without descending, unless some `!` pattern
 *   literally starts with "<dir>/"; then it is descended AND sent itself, even if nothing below it
 *   ends up included (checked against the engine: `dir` + `!dir/sub/keep` with no keep file still
 *   sends `dir/` and `dir/sub/`);
 * - sockets, fifos and devices are skipped; symlinks are never followed.
 */
async function walk(root: string, matcher: PatternMatcher | undefined): Promise<Found[]> {
  const limit = createLimiter(FS_CONCURRENCY);
  const found: Found[] = [];

  const visit = async (rel: string, abs: string, excluded: boolean): Promise<void> => {
    let st: Stats;
    try {
      st = await limit(() => lstat(abs));
    } catch (err) {
      if (isVanished(err)) return;
      throw unreadable(rel, err);
    }
    if (st.isDirectory()) {
      found.push({ rel, abs, kind: 'dir', st, link: '' });
      await walkDir(rel, abs);
    } else if (excluded) {
      // Was a directory when listed, is something else now: it is excluded.
    } else if (st.isFile()) {
      found.push({ rel, abs, kind: 'file', st, link: '' });
    } else if (st.isSymbolicLink()) {
      let link: string;
      try {
        link = await limit(() => readlink(abs));
      } catch (err) {
        if (isVanished(err) || errnoCode(err) === 'EINVAL') return;
        throw unreadable(rel, err);
      }
      found.push({ rel, abs, kind: 'symlink', st, link });
    }
  };

  const walkDir = async (relDir: string, absDir: string): Promise<void> => {
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = await limit(() => readdir(absDir, { withFileTypes: true }));
    } catch (err) {
      if (relDir !== '' && isVanished(err)) return;
      throw unreadable(relDir === '' ? '.' : relDir, err);
    }
    const tasks: Promise<void>[] = [];
    for (const d of dirents) {
      const isDir = d.isDirectory();
      if (!isDir && !d.isFile() && !d.isSymbolicLink()) continue;
      const rel = relDir === '' ? d.name : `${relDir}/${d.name}`;
      let excluded = false;
      if (matcher?.matches(rel)) {
        if (!isDir || !matcher.descendsInto(rel)) continue;
        excluded = true;
      }
      tasks.push(visit(rel, `${absDir}/${d.name}`, excluded));
    }
    await Promise.all(tasks);
  };

  await walkDir('', root);
  return found;
}

/** sha256 of a file's content, streamed for big files; `bytes` is what was actually read. */
async function hashFile(abs: string, size: number): Promise<{ digest: string; bytes: number }> {
  const fh = await open(abs, OPEN_FLAGS);
  try {
    const h = createHash('sha256');
    let bytes = 0;
    if (size <= SMALL_FILE) {
      const buf = await fh.readFile();
      h.update(buf);
      bytes = buf.length;
    } else {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        h.update(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead));
        bytes += bytesRead;
      }
    }
    return { digest: `sha256:${h.digest('hex')}`, bytes };
  } finally {
    await fh.close();
  }
}

function sameStat(r: IndexRecords[string] | undefined, st: Stats): boolean {
  return (
    r !== undefined &&
    isRecord(r) &&
    r.size === st.size &&
    r.mtimeMs === st.mtimeMs &&
    r.ino === st.ino &&
    r.ctimeMs === st.ctimeMs
  );
}

/** Walks the context, applies the ignore rules, hashes changed files and returns the sorted manifest. */
export async function scanContext(opts: ScanOptions): Promise<ContextScan> {
  const started = performance.now();
  const root = await resolveContext(opts.contextDir);
  const { patterns } = await readIgnorePatterns(root, opts.dockerfile);
  const matcher = patterns.length > 0 ? new PatternMatcher(patterns) : undefined;

  const indexFile = opts.noIndex ? undefined : indexFileFor(opts.indexDir ?? defaultIndexDir(), root);
  const [found, old] = await Promise.all([
    walk(root, matcher),
    indexFile ? loadIndex(indexFile, root) : Promise.resolve(emptyRecords()),
  ]);
  found.sort((a, b) => compareUtf8(a.rel, b.rel));

  const stats = { entries: 0, hashed: 0, bytesHashed: 0, reused: 0, ms: 0 };
  const digests = new Map<string, string>(); // rel -> digest, for files hashed or reused
  const gone = new Set<string>();
  const hashLimit = createLimiter(HASH_CONCURRENCY);

  const digestOf = async (f: Found): Promise<void> => {
    if (digests.has(f.rel)) return;
    if (sameStat(old[f.rel], f.st)) {
      digests.set(f.rel, old[f.rel]!.digest);
      stats.reused++;
      return;
    }
    // A file written while we read it is re-statted and re-read, so the size we report is the size we hashed.
    for (let attempt = 0; ; attempt++) {
      let res: { digest: string; bytes: number };
      try {
        res = await hashLimit(() => hashFile(f.abs, f.st.size));
      } catch (err) {
        if (isVanished(err)) {
          gone.add(f.rel);
          return;
        }
        throw unreadable(f.rel, err);
      }
      stats.hashed++;
      stats.bytesHashed += res.bytes;
      let now: Stats;
      try {
        now = await lstat(f.abs);
      } catch (err) {
        if (isVanished(err)) {
          gone.add(f.rel);
          return;
        }
        throw unreadable(f.rel, err);
      }
      if (!now.isFile()) {
        gone.add(f.rel);
        return;
      }
      const stable = res.bytes === now.size && now.mtimeMs === f.st.mtimeMs && now.ctimeMs === f.st.ctimeMs;
      f.st = now;
      if (stable || attempt >= 2) {
        digests.set(f.rel, res.digest);
        return;
      }
    }
  };

  // Hardlinks: the first path (canonical order) of an inode is its 'file', later ones link to it.
  // Repeated only if a hardlink source vanished mid-scan, so that its siblings get hashed themselves.
  let primaryOf = new Map<string, string>();
  for (;;) {
    primaryOf = new Map();
    const byInode = new Map<string, string>();
    const toHash: Found[] = [];
    for (const f of found) {
      if (f.kind !== 'file' || gone.has(f.rel)) continue;
      if (f.st.nlink > 1) {
        const key = `${f.st.dev}:${f.st.ino}`;
        const first = byInode.get(key);
        if (first !== undefined) {
          primaryOf.set(f.rel, first);
          continue;
        }
        byInode.set(key, f.rel);
      }
      toHash.push(f);
    }
    const goneBefore = gone.size;
    await Promise.all(toHash.map(digestOf));
    if (gone.size === goneBefore) break;
  }

  const entries: ContextEntry[] = [];
  const blobs = new Map<string, string>();
  const records = emptyRecords();
  const byRel = new Map<string, Found>();
  let unchanged = 0;
  let recordCount = 0;
  for (const f of found) {
    if (gone.has(f.rel)) continue;
    const st = f.st;
    const mode = st.mode & 0o7777;
    const mtimeMs = Math.floor(st.mtimeMs);
    if (f.kind === 'dir' || f.kind === 'symlink') {
      entries.push({ path: f.rel, type: f.kind, mode, uid: 0, gid: 0, size: 0, mtimeMs, digest: '', link: f.link });
      continue;
    }
    byRel.set(f.rel, f);
    const source = primaryOf.get(f.rel);
    const digest = digests.get(source ?? f.rel)!;
    if (source === undefined) {
      if (!blobs.has(digest)) blobs.set(digest, f.abs);
      entries.push({ path: f.rel, type: 'file', mode, uid: 0, gid: 0, size: st.size, mtimeMs, digest, link: '' });
    } else {
      const src = byRel.get(source)!;
      entries.push({
        path: f.rel,
        type: 'hardlink',
        mode,
        uid: 0,
        gid: 0,
        size: src.st.size,
        mtimeMs,
        digest,
        link: source,
      });
    }
    const rec = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, ctimeMs: st.ctimeMs, digest };
    records[f.rel] = rec;
    recordCount++;
    const prev = old[f.rel];
    if (sameStat(prev, st) && prev!.digest === digest) unchanged++;
  }

  if (indexFile) {
    const oldCount = Object.keys(old).length;
    if (unchanged !== recordCount || oldCount !== unchanged) await saveIndex(indexFile, root, records);
  }

  stats.entries = entries.length;
  stats.ms = Math.round((performance.now() - started) * 10) / 10;
  return { contextDir: root, entries, blobs, stats };
}

async function resolveContext(contextDir: string): Promise<string> {
  const abs = resolve(contextDir);
  let root: string;
  try {
    root = await realpath(abs);
  } catch (err) {
    if (isVanished(err)) throw new ContextError('context_not_found', `build context not found: ${contextDir}`);
    throw new ContextError('context_unreadable', `cannot read build context ${contextDir}: ${errnoCode(err)}`, {
      cause: err,
    });
  }
  const st = await stat(root).catch((err: unknown) => {
    throw new ContextError('context_not_found', `build context not found: ${contextDir}`, { cause: err });
  });
  if (!st.isDirectory()) throw new ContextError('context_not_dir', `build context is not a directory: ${contextDir}`);
  return root;
}
