/**
 * Walks a build context the way `docker build` (BuildKit, docker 20.10's fsutil) does and turns it
 * into a canonical manifest, hashing only files whose stat changed since the last scan.
 */
import { createHash } from 'node:crypto';
import fs, { constants, type Stats } from 'node:fs';
import { type FileHandle, open, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ContextEntry } from '../protocol/index.js';
import { ContextError, errnoCode, isVanished } from './errors.js';
import {
  defaultIndexDir,
  EMPTY_RECORDS,
  type IndexRecord,
  indexFileFor,
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

// Measured on a 20k-file context: synchronous fs calls in short slices that yield the event loop
// beat callback fs calls (~2x) and fs.promises (~5x) for stat and for reading small files.
const BIG_FILE_CONCURRENCY = 4;
const SMALL_FILE = 1024 * 1024;
const CHUNK = 1024 * 1024;
const SLICE_MS = 8;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * UTF-8 byte order without encoding: equal to comparePaths from protocol. UTF-16 order differs from
 * code point order only when a surrogate meets a unit in U+E000..U+FFFF, so remap those two ranges.
 */
export function compareUtf8(a: string, b: string): number {
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

const EMPTY_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

interface Found {
  rel: string;
  abs: string;
  /** 'socket': sent as an empty regular file with the socket's mode, as docker's context walk does */
  kind: 'file' | 'dir' | 'symlink' | 'socket';
  st: Stats;
  link: string;
}

function unreadable(rel: string, err: unknown): ContextError {
  const code = errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
  return new ContextError(
    'context_unreadable',
    `cannot read build context path ${JSON.stringify(rel)}: ${code}`,
    {
      cause: err,
    },
  );
}

/** Resolves on the next turn of the event loop, so timers, I/O and renders get a chance in between. */
function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Collects every path the context sends. The rule (docker 20.10's fsutil.Walk with exclude patterns):
 * - a non-directory matched by the patterns is skipped;
 * - a directory matched by the patterns is skipped without descending, unless some `!` pattern
 *   literally starts with "<dir>/"; then it is descended AND sent itself, even if nothing below it
 *   ends up included (checked against the engine: `dir` + `!dir/sub/keep` with no keep file still
 *   sends `dir/` and `dir/sub/`), while `!**\/keep` never opens an excluded directory;
 * - sockets, fifos and devices are skipped; symlinks are never followed;
 * - a path that vanishes between readdir and lstat is skipped; any other error fails the scan.
 *
 * Synchronous calls in slices of SLICE_MS: on a loaded 2-core machine a 20k-entry walk took ~130 ms
 * this way, ~250 ms with callback fs calls and ~900 ms with fs.promises (one promise per lstat).
 */
async function walk(root: string, matcher: PatternMatcher | undefined): Promise<Found[]> {
  const found: Found[] = [];
  const dirs: Array<{ rel: string; abs: string }> = [{ rel: '', abs: root }];
  let deadline = performance.now() + SLICE_MS;
  const tick = async (): Promise<void> => {
    if (performance.now() < deadline) return;
    await yieldToLoop();
    deadline = performance.now() + SLICE_MS;
  };
  while (dirs.length > 0) {
    const { rel: relDir, abs: absDir } = dirs.pop()!;
    let dirents: fs.Dirent[];
    try {
      dirents = fs.readdirSync(absDir, { withFileTypes: true });
    } catch (err) {
      if (relDir !== '' && isVanished(err)) continue;
      throw unreadable(relDir === '' ? '.' : relDir, err);
    }
    for (const d of dirents) {
      const isDir = d.isDirectory();
      if (!isDir && !d.isFile() && !d.isSymbolicLink() && !d.isSocket()) continue;
      const rel = relDir === '' ? d.name : `${relDir}/${d.name}`;
      let excluded = false;
      if (matcher?.matches(rel)) {
        if (!isDir || !matcher.descendsInto(rel)) continue;
        excluded = true;
      }
      const abs = `${absDir}/${d.name}`;
      let st: Stats | undefined;
      try {
        st = fs.lstatSync(abs, { throwIfNoEntry: false });
      } catch (err) {
        if (isVanished(err)) continue;
        throw unreadable(rel, err);
      }
      if (st === undefined) {
        // A name that is not valid UTF-8 comes back with U+FFFD and cannot be opened (nor sent:
        // manifest paths are UTF-8). Say so rather than silently dropping it.
        if (d.name.includes('\uFFFD'))
          throw new ContextError(
            'context_unreadable',
            `cannot send build context path ${JSON.stringify(rel)}: its name is not valid UTF-8; rename it or add it to .dockerignore`,
          );
        continue;
      }
      if (st.isDirectory()) {
        found.push({ rel, abs, kind: 'dir', st, link: '' });
        dirs.push({ rel, abs });
      } else if (excluded) {
        // Listed as a directory, something else now: it is excluded like any other file.
      } else if (st.isFile()) {
        found.push({ rel, abs, kind: 'file', st, link: '' });
      } else if (st.isSocket()) {
        found.push({ rel, abs, kind: 'socket', st, link: '' });
      } else if (st.isSymbolicLink()) {
        let link: string;
        try {
          link = fs.readlinkSync(abs);
        } catch (err) {
          if (isVanished(err) || errnoCode(err) === 'EINVAL') continue;
          throw unreadable(rel, err);
        }
        found.push({ rel, abs, kind: 'symlink', st, link });
      }
      await tick();
    }
  }
  return found;
}

/** Outcome of hashing one file: its digest and the stat of the very file that was read. */
type HashOutcome = { digest: string; bytes: number; st: Stats } | 'gone';

function hashErr(f: Found, err: unknown): 'gone' {
  if (isVanished(err)) return 'gone';
  throw unreadable(f.rel, err);
}

/** Hashes a small file synchronously (cheapest per file by far); the caller keeps slices short. */
function hashSmallSync(f: Found): HashOutcome {
  let fd: number;
  try {
    fd = fs.openSync(f.abs, OPEN_FLAGS);
  } catch (err) {
    return hashErr(f, err);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return 'gone';
    let buf = Buffer.allocUnsafe(st.size + 1);
    let bytes = 0;
    for (;;) {
      if (bytes === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, bytes, buf.length - bytes, null);
      if (n === 0) break;
      bytes += n;
    }
    const digest = `sha256:${createHash('sha256').update(buf.subarray(0, bytes)).digest('hex')}`;
    return { digest, bytes, st };
  } catch (err) {
    return hashErr(f, err);
  } finally {
    fs.closeSync(fd);
  }
}

/** Streams a big file through sha256 without holding it in memory. */
async function hashBig(f: Found): Promise<HashOutcome> {
  let fh: FileHandle;
  try {
    fh = await open(f.abs, OPEN_FLAGS);
  } catch (err) {
    return hashErr(f, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return 'gone';
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      h.update(bytesRead === CHUNK ? buf : buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return { digest: `sha256:${h.digest('hex')}`, bytes, st };
  } catch (err) {
    return hashErr(f, err);
  } finally {
    await fh.close();
  }
}

/** Hashes `files`, calling `done` for each; small files in short synchronous slices, big ones streamed. */
async function hashFiles(files: readonly Found[], done: (f: Found, r: HashOutcome) => void): Promise<void> {
  const small = files.filter((f) => f.st.size <= SMALL_FILE);
  const big = files.filter((f) => f.st.size > SMALL_FILE);
  const bigWork = (async () => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < big.length) {
        const f = big[next++]!;
        done(f, await hashBig(f));
      }
    };
    await Promise.all(Array.from({ length: Math.min(BIG_FILE_CONCURRENCY, big.length) }, worker));
  })();
  let i = 0;
  while (i < small.length) {
    const deadline = performance.now() + SLICE_MS;
    do {
      const f = small[i++]!;
      done(f, hashSmallSync(f));
    } while (i < small.length && performance.now() < deadline);
    if (i < small.length) await yieldToLoop();
  }
  await bigWork;
}

function sameStat(r: IndexRecord | undefined, st: Stats): boolean {
  return (
    r !== undefined &&
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
    indexFile ? loadIndex(indexFile, root) : Promise.resolve(EMPTY_RECORDS),
  ]);
  found.sort((a, b) => compareUtf8(a.rel, b.rel));

  const stats = { entries: 0, hashed: 0, bytesHashed: 0, reused: 0, ms: 0 };
  const digests = new Map<string, string>(); // rel -> digest, for files hashed or reused
  const gone = new Set<string>();

  // Digest of each file: reused when the index's stat fingerprint still matches, else hashed. A file
  // written while we read it (size read != size statted) is read again, up to 3 times.
  const digestAll = async (files: Found[]): Promise<void> => {
    let todo: Found[] = [];
    for (const f of files) {
      if (digests.has(f.rel)) continue;
      const prev = old.get(f.rel);
      if (prev !== undefined && sameStat(prev, f.st)) {
        digests.set(f.rel, prev.digest);
        stats.reused++;
      } else todo.push(f);
    }
    for (let attempt = 0; todo.length > 0; attempt++) {
      const again: Found[] = [];
      await hashFiles(todo, (f, r) => {
        if (r === 'gone') {
          gone.add(f.rel);
          return;
        }
        stats.hashed++;
        stats.bytesHashed += r.bytes;
        f.st = r.st;
        if (r.bytes === r.st.size || attempt >= 2) digests.set(f.rel, r.digest);
        else again.push(f);
      });
      todo = again;
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
    await digestAll(toHash);
    if (gone.size === goneBefore) break;
  }

  const entries: ContextEntry[] = [];
  const blobs = new Map<string, string>();
  const records: Array<[string, IndexRecord]> = [];
  const byRel = new Map<string, Found>();
  let unchanged = 0;
  for (const f of found) {
    if (gone.has(f.rel)) continue;
    const st = f.st;
    const mode = st.mode & 0o7777;
    const mtimeMs = Math.floor(st.mtimeMs);
    if (f.kind === 'socket') {
      // The content of a socket is nothing: any empty source serves its blob.
      if (!blobs.has(EMPTY_DIGEST)) blobs.set(EMPTY_DIGEST, '/dev/null');
      entries.push({
        path: f.rel,
        type: 'file',
        mode,
        uid: 0,
        gid: 0,
        size: 0,
        mtimeMs,
        digest: EMPTY_DIGEST,
        link: '',
      });
      continue;
    }
    if (f.kind === 'dir' || f.kind === 'symlink') {
      entries.push({
        path: f.rel,
        type: f.kind,
        mode,
        uid: 0,
        gid: 0,
        size: 0,
        mtimeMs,
        digest: '',
        link: f.link,
      });
      continue;
    }
    byRel.set(f.rel, f);
    const source = primaryOf.get(f.rel);
    const digest = digests.get(source ?? f.rel)!;
    if (source === undefined) {
      if (!blobs.has(digest)) blobs.set(digest, f.abs);
      entries.push({
        path: f.rel,
        type: 'file',
        mode,
        uid: 0,
        gid: 0,
        size: st.size,
        mtimeMs,
        digest,
        link: '',
      });
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
    records.push([f.rel, rec]);
    const prev = old.get(f.rel);
    if (prev !== undefined && sameStat(prev, st) && prev.digest === digest) unchanged++;
  }

  if (indexFile) {
    // Rewritten only when something differs: a changed or new file, or a path that is gone.
    if (unchanged !== records.length || old.size !== unchanged) await saveIndex(indexFile, root, records);
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
    if (isVanished(err))
      throw new ContextError('context_not_found', `build context not found: ${contextDir}`);
    throw new ContextError(
      'context_unreadable',
      `cannot read build context ${contextDir}: ${errnoCode(err)}`,
      {
        cause: err,
      },
    );
  }
  const st = await stat(root).catch((err: unknown) => {
    throw new ContextError('context_not_found', `build context not found: ${contextDir}`, { cause: err });
  });
  if (!st.isDirectory())
    throw new ContextError('context_not_dir', `build context is not a directory: ${contextDir}`);
  return root;
}
