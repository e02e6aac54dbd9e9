/**
 * Incremental rescan: given the previous scan and the paths a watcher saw change, produce exactly
 * the scan scanContext would produce now, re-examining only those paths (and their parents, whose
 * mtime a create or delete changes).
 */
import fs, { type Stats } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { ContextEntry } from '../protocol/index.js';
import { BlobSources } from './blob-sources.js';
import { isVanished } from './errors.js';
import { defaultIndexDir, type IndexRecord, indexFileFor, saveIndex } from './hash-index.js';
import { cleanPath, readIgnorePatterns } from './ignore.js';
import {
  admit,
  badName,
  type ContextScan,
  classify,
  compareUtf8,
  digestFiles,
  EMPTY_DIGEST,
  entryOf,
  type Found,
  newDigested,
  recordOf,
  rememberScanState,
  resolveContext,
  type ScanOptions,
  scanContext,
  scanStateOf,
  unreadable,
  walk,
  walkable,
} from './scan.js';

/** Beyond this many changed paths a full scan is as cheap and simpler. */
export const MAX_INCREMENTAL_CHANGES = 2000;

/** Explicitly changed files up to this size are always re-read: a same-size rewrite within the
 * filesystem's timestamp granularity keeps the stat fingerprint, and a watcher event is our hint. */
const REHASH_CHANGED_UP_TO = 1024 * 1024;

/** Index of the first entry whose path is >= `path` (canonical order). */
function lowerBound(entries: readonly ContextEntry[], path: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareUtf8(entries[mid]!.path, path) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the entry at exactly `path`, or -1. */
function indexOf(entries: readonly ContextEntry[], path: string): number {
  const i = lowerBound(entries, path);
  return i < entries.length && entries[i]!.path === path ? i : -1;
}

function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

/** A changed path as a clean context-relative path; '.' for the context itself; undefined if outside. */
function normalize(root: string, raw: string): string | undefined {
  let p = raw;
  if (isAbsolute(p)) {
    const rel = relative(root, p);
    if (rel === '') return '.';
    if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) return undefined;
    p = sep === '/' ? rel : rel.split(sep).join('/');
  }
  p = cleanPath(p);
  if (p === '..' || p.startsWith('../')) return undefined;
  return p;
}

function lstatOrUndefined(abs: string, rel: string): Stats | undefined {
  try {
    return fs.lstatSync(abs, { throwIfNoEntry: false });
  } catch (err) {
    if (isVanished(err)) return undefined;
    throw unreadable(rel, err);
  }
}

/** Thrown inside the update to abandon it for a full scan. */
class NeedsFullScan extends Error {}

/**
 * Returns the scan `scanContext(opts)` would return now, re-examining only the `changed`
 * context-relative paths (files, dirs — re-walked —, symlinks, or paths now missing — removed with
 * everything under them). Falls back to a full scan when `prev` was not made by this process (or
 * was already updated), when the ignore file or its patterns changed, when a hardlinked path is
 * involved, or when more than MAX_INCREMENTAL_CHANGES paths changed. Paths outside the context are
 * ignored; '.' means "anything may have changed". Keeps the hash index current.
 */
export async function updateScan(
  prev: ContextScan,
  changed: string[],
  opts: ScanOptions,
): Promise<ContextScan> {
  try {
    return await incremental(prev, changed, opts);
  } catch (err) {
    if (err instanceof NeedsFullScan) return scanContext(opts);
    throw err;
  }
}

async function incremental(prev: ContextScan, changed: string[], opts: ScanOptions): Promise<ContextScan> {
  const started = performance.now();
  const state = scanStateOf(prev);
  if (state === undefined || state.consumed || changed.length > MAX_INCREMENTAL_CHANGES)
    throw new NeedsFullScan();
  const root = await resolveContext(opts.contextDir);
  const dockerfile = opts.dockerfile ? resolve(opts.dockerfile) : undefined;
  if (root !== state.root || dockerfile !== state.dockerfile) throw new NeedsFullScan();
  const { patterns, source } = await readIgnorePatterns(root, opts.dockerfile);
  if (
    source !== state.ignoreSource ||
    patterns.length !== state.patterns.length ||
    patterns.some((p, i) => p !== state.patterns[i])
  )
    throw new NeedsFullScan();
  const ignoreRel = source === undefined ? undefined : normalize(root, source);
  const matcher = state.matcher;
  const entries = prev.entries;

  // Changed paths, minus those under another changed path (its re-walk covers them).
  const asked = new Set<string>();
  for (const raw of changed) {
    const p = normalize(root, raw);
    if (p === undefined) continue;
    if (p === '.' || p === ignoreRel) throw new NeedsFullScan();
    asked.add(p);
  }
  for (const p of asked) {
    // Even for an excluded path: writing through a second link changes the content of a sent one.
    let st: Stats | undefined;
    try {
      st = fs.lstatSync(`${root}/${p}`, { throwIfNoEntry: false });
    } catch {
      // Unreadable: the examination below decides whether that matters.
    }
    if (st?.isFile() && st.nlink > 1) throw new NeedsFullScan();
  }
  // A path whose parent is not in the manifest is either invisible (inside an excluded or vanished
  // directory) or inside a new directory nobody reported: re-examine the topmost such ancestor.
  const lifted = new Set<string>();
  for (const p of asked) {
    let top = p;
    for (let parent = parentOf(top); parent !== '' && indexOf(entries, parent) < 0; parent = parentOf(top))
      top = parent;
    lifted.add(top);
  }
  const tops = [...lifted]
    .filter((p) => {
      for (let a = parentOf(p); a !== ''; a = parentOf(a)) if (lifted.has(a)) return false;
      return true;
    })
    .sort(compareUtf8);

  // What goes: each top and everything under it. Hardlinked paths make the update non-local.
  const removed: Array<[number, number]> = [];
  const refreshed = new Map<number, ContextEntry>();
  const found: Found[] = [];
  const force = new Set<string>();
  for (const top of tops) {
    const at = indexOf(entries, top);
    const from = lowerBound(entries, `${top}/`);
    const to = lowerBound(entries, `${top}0`); // '0' follows '/': the end of the "top/" range
    if (at >= 0) removed.push([at, at + 1]);
    if (to > from) removed.push([from, to]);
    if (at >= 0 && isHardlinked(entries[at]!, state.hardlinked)) throw new NeedsFullScan();
    for (let i = from; i < to; i++)
      if (isHardlinked(entries[i]!, state.hardlinked)) throw new NeedsFullScan();

    const parent = parentOf(top);
    const parentAt = parent === '' ? -1 : indexOf(entries, parent);
    if (parent !== '' && (parentAt < 0 || entries[parentAt]!.type !== 'dir')) continue; // not visible
    if (parentAt >= 0 && !refreshed.has(parentAt)) {
      // A create or delete changed the parent's mtime; its own type change would have been reported.
      const pst = lstatOrUndefined(`${root}/${parent}`, parent);
      if (pst === undefined || !pst.isDirectory()) throw new NeedsFullScan();
      refreshed.set(
        parentAt,
        entryOf({ rel: parent, abs: `${root}/${parent}`, kind: 'dir', st: pst, link: '' }),
      );
    }

    const abs = `${root}/${top}`;
    const st = lstatOrUndefined(abs, top);
    if (st === undefined) {
      if (top.includes('\uFFFD')) throw badName(top);
      continue;
    }
    if (!walkable(st)) continue;
    const verdict = admit(top, st.isDirectory(), matcher);
    if (verdict === 'skip') continue;
    const f = classify(top, abs, st, verdict === 'excluded');
    if (f === undefined) continue;
    found.push(f);
    if (f.kind === 'file' && f.st.size <= REHASH_CHANGED_UP_TO) force.add(top);
    if (f.kind === 'dir') for (const g of await walk(root, matcher, [{ rel: top, abs }])) found.push(g);
  }
  for (const f of found) if (f.kind === 'file' && f.st.nlink > 1) throw new NeedsFullScan();
  found.sort((a, b) => compareUtf8(a.rel, b.rel));

  const dg = newDigested();
  await digestFiles(
    found.filter((f) => f.kind === 'file'),
    (rel) => state.records.get(rel),
    dg,
    force,
  );
  const added: ContextEntry[] = [];
  const addedDigest = new Map<string, string>(); // rel -> digest of the new file entries
  const addedRecords = new Map<string, IndexRecord>();
  const sockets = new Set<string>();
  for (const f of found) {
    if (dg.gone.has(f.rel)) continue;
    if (f.kind !== 'file') {
      if (f.kind === 'socket') sockets.add(f.rel);
      added.push(entryOf(f));
      continue;
    }
    const digest = dg.digests.get(f.rel)!;
    added.push(entryOf(f, digest));
    addedDigest.set(f.rel, digest);
    addedRecords.set(f.rel, recordOf(f.st, digest));
  }

  // Merge: one pass over the previous manifest, dropping the removed ranges, swapping refreshed
  // parents and inserting the new entries where a binary search puts them. No re-sort.
  removed.sort((a, b) => a[0] - b[0]);
  const insertAt = added.map((e) => lowerBound(entries, e.path));
  const next: ContextEntry[] = new Array(entries.length + added.length);
  const gone: ContextEntry[] = [];
  let n = 0;
  let r = 0;
  let k = 0;
  for (let i = 0; i <= entries.length; i++) {
    while (k < added.length && insertAt[k] === i) next[n++] = added[k++]!;
    if (i === entries.length) break;
    while (r < removed.length && removed[r]![1] <= i) r++;
    if (r < removed.length && removed[r]![0] <= i) {
      gone.push(entries[i]!);
      continue;
    }
    next[n++] = refreshed.get(i) ?? entries[i]!;
  }
  next.length = n;

  // From here on the previous scan's records and digest counts are taken over and patched.
  if (state.consumed) throw new NeedsFullScan(); // a concurrent update of `prev` got there first
  state.consumed = true;
  const { records, refs } = state;
  for (const e of gone) if (e.digest !== '') refs.set(e.digest, refs.get(e.digest)! - 1);
  for (const e of added) if (e.digest !== '') refs.set(e.digest, (refs.get(e.digest) ?? 0) + 1);

  // Blobs: a source for each new content; contents whose source went away get another one, or go.
  const blobs = BlobSources.derive(prev.blobs);
  for (const e of added) {
    if (e.digest === '' || blobs.has(e.digest)) continue;
    blobs.set(e.digest, sockets.has(e.path) ? '/dev/null' : `${root}/${e.path}`);
  }
  for (const e of gone) {
    const d = e.digest;
    if (d === '') continue;
    if (refs.get(d) === 0) {
      refs.delete(d);
      blobs.delete(d);
    } else if (blobs.get(d) === `${root}/${e.path}` && addedDigest.get(e.path) !== d) {
      // Another path holds the same bytes (often: empty files). Rare enough for a linear search.
      const holder = d === EMPTY_DIGEST ? undefined : next.find((x) => x.type === 'file' && x.digest === d);
      if (d === EMPTY_DIGEST) blobs.set(d, '/dev/null');
      else if (holder !== undefined) blobs.set(d, `${root}/${holder.path}`);
      else blobs.delete(d);
    }
  }

  let dirty = false;
  for (const [rel, rec] of addedRecords) {
    const old = records.get(rel);
    if (old === undefined || !sameRecord(old, rec)) dirty = true;
  }
  for (const e of gone) if (!addedRecords.has(e.path) && records.delete(e.path)) dirty = true;
  for (const [rel, rec] of addedRecords) records.set(rel, rec);
  if (dirty && !opts.noIndex) saveSoon(indexFileFor(opts.indexDir ?? defaultIndexDir(), root), root, records);

  const scan: ContextScan = {
    contextDir: root,
    entries: next,
    blobs,
    stats: {
      entries: next.length,
      hashed: dg.hashed,
      bytesHashed: dg.bytesHashed,
      reused: dg.reused,
      ms: Math.round((performance.now() - started) * 10) / 10,
    },
  };
  rememberScanState(scan, { ...state, consumed: false });
  return scan;
}

function isHardlinked(e: ContextEntry, hardlinked: ReadonlySet<string>): boolean {
  return e.type === 'hardlink' || hardlinked.has(e.path);
}

function sameRecord(a: IndexRecord, b: IndexRecord): boolean {
  return (
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ino === b.ino &&
    a.ctimeMs === b.ctimeMs &&
    a.digest === b.digest
  );
}

/** Index writes in flight or queued, by index file: at most one running and one (the latest) queued. */
const saves = new Map<string, { done: Promise<void>; next: ReadonlyMap<string, IndexRecord> | undefined }>();

/**
 * Rewrites the index off the update's critical path: serializing 20k records costs more than the
 * update itself. Writes to one file are serialized and coalesced (only the newest queued records
 * are written). A lost or stale index only costs re-hashing: records are checked against lstat.
 */
function saveSoon(file: string, root: string, records: ReadonlyMap<string, IndexRecord>): void {
  const slot = saves.get(file);
  if (slot !== undefined) {
    slot.next = records;
    return;
  }
  const entry: { done: Promise<void>; next: ReadonlyMap<string, IndexRecord> | undefined } = {
    done: Promise.resolve(),
    next: records,
  };
  entry.done = (async () => {
    while (entry.next !== undefined) {
      await new Promise((r) => setImmediate(r));
      const recs = entry.next;
      entry.next = undefined;
      await saveIndex(file, root, recs);
    }
    saves.delete(file);
  })();
  saves.set(file, entry);
}

/** Resolves once every index write updateScan started has finished (tests, orderly shutdown). */
export async function indexWritesSettled(): Promise<void> {
  while (saves.size > 0) await Promise.all([...saves.values()].map((s) => s.done));
}
