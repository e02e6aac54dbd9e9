import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { type FileHandle, open, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crashPoint } from './crash-point.js';
import { tempPath } from './tmp-dir.js';

/** Where one packed blob lives. */
export interface PackedBlob {
  pack: string;
  offset: number;
  size: number;
}

/**
 * Small blobs appended to pack files (`<root>/packs/<id>.pack`) with an index per pack
 * (`<id>.idx`, one `<hex> <offset> <size>` line per blob), like git's packfiles: one file, one
 * fsync and two renames per flush instead of a file, a mkdir and a rename per blob.
 *
 * Crash safety: a pack is written in the store's tmp dir (a crash there leaves a temp file,
 * removed at the next start), fsynced, renamed into `packs/`, and only then is its index written
 * (temp, fsync, rename, directory fsync). An index therefore only ever names bytes that are fully
 * on disk and durable; a pack without an index is unreferenced and goes at the next compaction.
 * Every blob is verified by its digest before it is appended (by the caller) and again whenever a
 * compaction copies it.
 */
export interface Packs {
  /** The sealed (durable) location of a blob, or undefined. */
  get(digest: string): PackedBlob | undefined;
  /**
   * Loads the indexes sealed since the last look (by another builder process serving the same
   * data directory); call it after a miss.
   */
  refresh(): void;
  /** True while the blob is appended but its pack not yet sealed. */
  pending(digest: string): boolean;
  /** Appends a verified blob to the open pack; durable only once `seal` has returned. */
  append(digest: string, data: Buffer): Promise<void>;
  /** Seals the open pack and any earlier one whose sealing failed; rejects while one cannot be. */
  seal(): Promise<void>;
  /**
   * Forgets a blob, sealed (its bytes go at the next `compact`) or pending (its pack's seal will
   * not index it); returns its size, 0 when not packed.
   */
  forget(digest: string): number;
  /** Every sealed blob with its size. */
  entries(): IterableIterator<[string, PackedBlob]>;
  /** Every blob appended but not yet sealed, with its size. */
  pendingEntries(): IterableIterator<[string, number]>;
  /** Path of a sealed pack file. */
  packPath(pack: string): string;
  /**
   * Rewrites packs holding forgotten blobs with only their live ones (each re-verified by digest;
   * a corrupt one is dropped, so the store no longer claims it), drops empty packs and packs with no
   * index. Returns the digests dropped as corrupt. Runs between seals, never alongside one.
   */
  compact(): Promise<string[]>;
}

interface OpenPack {
  id: string;
  tmp: string;
  fh: Promise<FileHandle>;
  size: number;
  entries: Array<{ digest: string; offset: number; size: number }>;
  /** Appends waiting for the write in progress; written together in one write when it ends. */
  queue: Array<{ digest: string; offset: number; data: Buffer; done: (err?: unknown) => void }>;
  /** The write loop while it runs: a seal waits for it. */
  writes: Promise<void>;
  writing: boolean;
  renamed: boolean;
}

/** The largest pack a sync appends to before starting another (compaction cost stays bounded). */
const PACK_MAX_BYTES = 64 * 1024 * 1024;

/** Opens the packs under `<root>/packs`, loading every index whose pack is whole. */
export function openPacks(
  root: string,
  tmpDir: string,
  opts: {
    /** Makes a pack's bytes durable (tests replace it to hold a flush in the middle). */
    fsync?: (fh: FileHandle) => Promise<void>;
    syncDir: (dir: string) => Promise<void>;
  },
): Packs {
  const dir = join(root, 'packs');
  mkdirSync(dir, { recursive: true });
  const fsync = opts.fsync ?? ((fh: FileHandle) => fh.sync());
  const index = new Map<string, PackedBlob>();
  // Per sealed pack: its file size and how many bytes of it are still indexed.
  const packs = new Map<string, { bytes: number; live: number }>();
  // Appended, not yet sealed: digest → size. A digest forgotten while pending is left out of the seal.
  const pendingSet = new Map<string, number>();
  const dropped = new Set<string>();
  let current: OpenPack | undefined;
  const unsealed: OpenPack[] = [];
  // Seals and compactions run one after another; appends never touch a sealed pack.
  let chain: Promise<unknown> = Promise.resolve();

  const packPath = (id: string) => join(dir, `${id}.pack`);
  const idxPath = (id: string) => join(dir, `${id}.idx`);

  // Index files already looked at, and those refused (their pack does not hold what they name).
  const seen = new Set<string>();
  const refused = new Set<string>();
  const load = (id: string, text: string, packBytes: number) => {
    const rows: Array<[string, PackedBlob]> = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      const m = /^([0-9a-f]{64}) (\d+) (\d+)$/.exec(line);
      // An index is written whole and renamed into place: anything else is not ours to trust.
      if (!m) return void refused.add(id);
      const offset = Number(m[2]);
      const size = Number(m[3]);
      if (offset + size > packBytes) return void refused.add(id);
      rows.push([`sha256:${m[1]}`, { pack: id, offset, size }]);
    }
    let live = 0;
    for (const [d, loc] of rows) {
      const had = index.get(d);
      if (had) continue;
      index.set(d, loc);
      live += loc.size;
    }
    packs.set(id, { bytes: packBytes, live });
  };
  const refresh = () => {
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.idx') || seen.has(name)) continue;
      const id = name.slice(0, -4);
      let bytes: number;
      let text: string;
      try {
        bytes = statSync(packPath(id)).size;
        text = readFileSync(join(dir, name), 'utf8');
      } catch {
        continue; // an index whose pack is gone names nothing
      }
      seen.add(name);
      load(id, text, bytes);
    }
  };
  refresh();

  const newPack = (): OpenPack => {
    const tmp = tempPath(tmpDir, 'pack');
    const fh = open(tmp, 'wx', 0o444);
    fh.catch(() => {});
    return {
      id: `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`,
      tmp,
      fh,
      size: 0,
      entries: [],
      queue: [],
      writes: Promise.resolve(),
      writing: false,
      renamed: false,
    };
  };

  // One write per batch of appends rather than one per blob: a sync has many blobs in flight and
  // each write is a trip through the thread pool.
  const drain = (p: OpenPack) => {
    p.writing = true;
    p.writes = (async () => {
      while (p.queue.length) {
        const batch = p.queue.splice(0);
        try {
          const fh = await p.fh;
          const buf = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((b) => b.data));
          let off = 0;
          while (off < buf.length) {
            const { bytesWritten } = await fh.write(buf, off, buf.length - off, batch[0]!.offset + off);
            off += bytesWritten;
          }
        } catch (err) {
          // The range stays unindexed (never read). A disk that refused one write will refuse the
          // next: no more appends to this pack; what it holds is sealed by the next flush, and a
          // pack that holds nothing goes now.
          if (current === p) current = undefined;
          // Appends queued behind it fail too, so the pack ends where its last good blob does
          // (nothing for a compaction to rewrite on a disk that is full).
          batch.push(...p.queue.splice(0));
          p.size = batch[0]!.offset;
          if (p.entries.length === 0 && !unsealed.includes(p)) {
            await p.fh.then((fh) => fh.close()).catch(() => {});
            await unlink(p.tmp).catch(() => {});
          } else {
            await p.fh.then((fh) => fh.truncate(p.size)).catch(() => {});
            if (!unsealed.includes(p)) unsealed.push(p);
          }
          for (const b of batch) b.done(err);
          continue;
        }
        for (const b of batch) {
          p.entries.push({ digest: b.digest, offset: b.offset, size: b.data.length });
          b.done();
        }
      }
      p.writing = false;
    })();
  };

  const writeIndex = async (id: string, rows: Array<{ digest: string; offset: number; size: number }>) => {
    const text = rows.map((r) => `${r.digest.slice(7)} ${r.offset} ${r.size}\n`).join('');
    const tmp = tempPath(tmpDir, 'idx');
    try {
      await writeFile(tmp, text, { mode: 0o444 });
      const fh = await open(tmp, 'r');
      await fh.sync().finally(() => fh.close());
      await rename(tmp, idxPath(id));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await opts.syncDir(dir);
  };

  /** Seals a pack; `from`: the pack a compaction copied it from (its blobs move unless forgotten meanwhile). */
  const sealOne = async (p: OpenPack, from?: string) => {
    await p.writes;
    if (!p.renamed) {
      const fh = await p.fh;
      await fsync(fh);
      crashPoint('pack-synced');
      await rename(p.tmp, packPath(p.id));
      p.renamed = true;
      await fh.close().catch(() => {});
      await opts.syncDir(dir);
      crashPoint('pack-renamed');
    }
    seen.add(`${p.id}.idx`); // ours: a refresh must not load it a second time
    await writeIndex(p.id, p.entries);
    let live = 0;
    for (const e of p.entries) {
      if (from === undefined) {
        if (dropped.delete(e.digest) && !pendingSet.has(e.digest)) continue;
        pendingSet.delete(e.digest);
      }
      const had = index.get(e.digest);
      if (from === undefined ? had : had?.pack !== from) continue;
      index.set(e.digest, { pack: p.id, offset: e.offset, size: e.size });
      live += e.size;
    }
    packs.set(p.id, { bytes: p.size, live });
  };

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const turn = chain.then(fn);
    chain = turn.catch(() => {});
    return turn;
  };

  return {
    get: (digest) => index.get(digest),
    refresh,
    pending: (digest) => pendingSet.has(digest),
    packPath,
    entries: () => index.entries(),
    pendingEntries: () => pendingSet.entries(),
    append(digest, data) {
      if (index.has(digest) || pendingSet.has(digest)) return Promise.resolve();
      if (!current || current.size >= PACK_MAX_BYTES) {
        if (current) unsealed.push(current);
        current = newPack();
      }
      const p = current;
      pendingSet.set(digest, data.length);
      dropped.delete(digest);
      const offset = p.size;
      p.size += data.length;
      return new Promise<void>((resolve, reject) => {
        p.queue.push({
          digest,
          offset,
          data,
          done: (err) => {
            if (err === undefined) return resolve();
            if (pendingSet.get(digest) !== undefined) pendingSet.delete(digest);
            reject(err);
          },
        });
        if (!p.writing) drain(p);
      });
    },
    seal() {
      // Taken now: what this caller appended is in `current` or already in `unsealed`; what is
      // appended after this call is the next caller's to seal.
      if (current && current.size > 0) {
        unsealed.push(current);
        current = undefined;
      }
      const mine = [...unsealed];
      return serial(async () => {
        for (const p of mine) {
          if (!unsealed.includes(p)) continue; // an earlier caller sealed it
          // Left in the list on failure: the next seal tries it again.
          await sealOne(p);
          unsealed.splice(unsealed.indexOf(p), 1);
        }
      });
    },
    forget(digest) {
      const waiting = pendingSet.get(digest);
      if (waiting !== undefined) {
        pendingSet.delete(digest);
        dropped.add(digest);
        return waiting;
      }
      const loc = index.get(digest);
      if (!loc) return 0;
      index.delete(digest);
      const p = packs.get(loc.pack);
      if (p) p.live -= loc.size;
      return loc.size;
    },
    compact() {
      return serial(async () => {
        const corrupt: string[] = [];
        const byPack = new Map<string, Array<[string, PackedBlob]>>();
        for (const [d, loc] of index) {
          const l = byPack.get(loc.pack) ?? [];
          if (l.length === 0) byPack.set(loc.pack, l);
          l.push([d, loc]);
        }
        // A pack without an index (a crash between its rename and its index) is referenced by
        // nothing; an index refused at load names bytes its pack does not hold.
        for (const name of readdirSync(dir)) {
          const id = name.replace(/\.(pack|idx)$/, '');
          const orphan = name.endsWith('.pack') && !packs.has(id) && !existsSync(idxPath(id));
          if (orphan || refused.has(id)) await unlink(join(dir, name)).catch(() => {});
        }
        for (const id of refused) seen.delete(`${id}.idx`);
        refused.clear();
        for (const [id, info] of [...packs]) {
          const rows = byPack.get(id) ?? [];
          if (rows.length > 0 && info.live === info.bytes) continue;
          if (rows.length > 0) {
            // Copy the live blobs, each re-verified, into a new pack sealed like any other.
            const p = newPack();
            const src = await open(packPath(id), 'r');
            try {
              for (const [d, loc] of rows) {
                const buf = Buffer.alloc(loc.size);
                const { bytesRead } = loc.size
                  ? await src.read(buf, 0, loc.size, loc.offset)
                  : { bytesRead: 0 };
                if (
                  bytesRead !== loc.size ||
                  `sha256:${createHash('sha256').update(buf).digest('hex')}` !== d
                ) {
                  corrupt.push(d);
                  index.delete(d);
                  continue;
                }
                const offset = p.size;
                p.size += buf.length;
                const fh = await p.fh;
                let off = 0;
                while (off < buf.length) {
                  const { bytesWritten } = await fh.write(buf, off, buf.length - off, offset + off);
                  off += bytesWritten;
                }
                p.entries.push({ digest: d, offset, size: buf.length });
              }
            } finally {
              await src.close();
            }
            await sealOne(p, id);
          }
          // The new copy is durable (or there was nothing live): the old index goes first, then its pack.
          await unlink(idxPath(id)).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
          await opts.syncDir(dir);
          await unlink(packPath(id)).catch(() => {});
          packs.delete(id);
          seen.delete(`${id}.idx`);
        }
        return corrupt;
      });
    },
  };
}
