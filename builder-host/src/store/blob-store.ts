import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, openSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { crashPoint } from './crash-point.js';
import { digestHex, StoreError } from './errors.js';
import { openPacks, type PackedBlob } from './packs.js';
import { tempPath } from './tmp-dir.js';

/**
 * Content-addressed, immutable blobs: large ones (streamed) as files under
 * `<data>/blobs/sha256/<ab>/<hex>`, small ones (whole in one message) appended to packs under
 * `<data>/blobs/packs/` (see packs.ts). Both are read through `open`.
 */
export interface BlobStore {
  /** True when the blob is in the store; throws StoreError 'invalid_digest' for a malformed digest. */
  has(digest: string): Promise<boolean>;
  /** The digests not in the store, unique, in input order. */
  missing(digests: Iterable<string>): Promise<string[]>;
  /** A stream of the blob's bytes; throws StoreError 'blob_missing' (synchronously) when absent. */
  open(digest: string): NodeJS.ReadableStream;
  /** Where the blob lives (or would live) as a file of its own; a packed blob is not there. */
  path(digest: string): string;
  /**
   * Starts receiving one blob; bytes go to a temp file (in the store's tmp dir, same filesystem),
   * hashed as written. `size`, when given, is checked too.
   */
  begin(digest: string, size?: number): BlobWriter;
  /**
   * Stores a whole small blob given in memory: verified before anything is written, then
   * appended to the open pack. Durable only after `flush()`.
   */
  put(digest: string, data: Buffer): Promise<void>;
  /**
   * Makes every blob stored by `put` before this call durable (its pack fsynced, renamed and
   * indexed), including those another caller's flush already took but has not finished: it
   * resolves only once they are on disk, and rejects when they could not be made durable.
   */
  flush(): Promise<void>;
  /**
   * Deletes a blob (garbage collection, quarantine); returns its size, 0 when absent. A packed
   * blob is forgotten at once and its bytes go at the next `compact`. A put or commit of the same
   * digest waits for the deletion, so it cannot be undone by it.
   */
  remove(digest: string): Promise<number>;
  /**
   * Rewrites the packs that hold removed blobs (each live blob re-verified by digest) and drops
   * empty ones, so the disk holds what `list` counts. Returns digests found corrupt and dropped.
   */
  compact(): Promise<string[]>;
  /** Every blob on disk with its size (a walk of the store; for collection and checks). */
  list(): AsyncIterable<{ digest: string; size: number }>;
}

/** One blob upload in progress; nothing is visible under blobs/ until commit succeeds. */
export interface BlobWriter {
  /** Appends bytes; writes are applied in call order. */
  write(chunk: Buffer): Promise<void>;
  /** Verifies sha256 (and size), fsyncs and renames into place; on mismatch deletes the temp and throws StoreError 'digest_mismatch'. */
  commit(): Promise<void>;
  /** Drops the upload and its temp file; safe to call more than once. */
  abort(): Promise<void>;
}

/** Fsyncs a directory so a rename in it survives a crash; best effort where the platform refuses. */
export async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await fh?.close().catch(() => {});
  }
}

class FileBlobWriter implements BlobWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly handle: Promise<FileHandle>;
  private queue: Promise<void> = Promise.resolve();
  private written = 0;
  private state: 'open' | 'committing' | 'done' = 'open';
  private committing: Promise<void> | undefined;

  constructor(
    private readonly digest: string,
    private readonly tmpFile: string,
    private readonly finalPath: string,
    private readonly expectedSize: number | undefined,
    private readonly removal: () => Promise<void> | undefined,
  ) {
    this.handle = open(tmpFile, 'wx', 0o600);
    // A failed open is reported by the first write/commit; don't let it go unhandled meanwhile.
    this.handle.catch(() => {});
  }

  write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') {
      return Promise.reject(
        new StoreError('writer_closed', `blob ${this.digest} upload is already finished`),
      );
    }
    const next = this.queue.then(async () => {
      if (this.state === 'done')
        throw new StoreError('writer_closed', `blob ${this.digest} upload was aborted`);
      if (this.expectedSize !== undefined && this.written + chunk.length > this.expectedSize) {
        await this.discard();
        throw new StoreError(
          'digest_mismatch',
          `blob ${this.digest} is larger than its declared ${this.expectedSize} bytes`,
        );
      }
      const fh = await this.handle;
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
      this.hash.update(chunk);
      this.written += chunk.length;
    });
    // Later writes wait for this one but a failure is reported only to its own caller.
    this.queue = next.catch(() => {});
    return next.catch(async (err: unknown) => {
      await this.discard();
      throw wrapIo(err, `writing blob ${this.digest} failed`);
    });
  }

  commit(): Promise<void> {
    if (this.state !== 'open') {
      return Promise.reject(
        new StoreError('writer_closed', `blob ${this.digest} upload is already finished`),
      );
    }
    this.state = 'committing';
    this.committing = this.finish();
    return this.committing;
  }

  private async finish(): Promise<void> {
    await this.queue;
    // An in-flight write may have failed and discarded the upload.
    if ((this.state as string) === 'done') {
      throw new StoreError('writer_closed', `blob ${this.digest} upload failed before commit`);
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.digest) {
      await this.discard();
      throw new StoreError('digest_mismatch', `blob ${this.digest} did not match its digest`);
    }
    if (this.expectedSize !== undefined && this.written !== this.expectedSize) {
      await this.discard();
      throw new StoreError(
        'digest_mismatch',
        `blob ${this.digest} was ${this.written} bytes, expected ${this.expectedSize}`,
      );
    }
    try {
      const fh = await this.handle;
      await fh.chmod(0o444);
      await fh.sync();
      await fh.close();
      const dir = dirname(this.finalPath);
      await this.removal();
      await mkdir(dir, { recursive: true });
      // Atomic: a concurrent writer of the same digest just replaces identical content.
      await rename(this.tmpFile, this.finalPath);
      await syncDir(dir);
      this.state = 'done';
    } catch (err) {
      await this.discard();
      throw wrapIo(err, `storing blob ${this.digest} failed`);
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'done') return;
    if (this.committing) {
      // Too late to abort: let the commit decide, it cleans up after itself on failure.
      await this.committing.catch(() => {});
      return;
    }
    await this.queue;
    await this.discard();
  }

  private async discard(): Promise<void> {
    if (this.state === 'done') return;
    this.state = 'done';
    try {
      const fh = await this.handle;
      await fh.close().catch(() => {});
    } catch {
      // Never opened: nothing to close.
    }
    await unlink(this.tmpFile).catch(() => {});
  }
}

export function wrapIo(err: unknown, message: string): StoreError {
  if (err instanceof StoreError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  // A full disk is the operator's to fix, not a bug: say so in words and with its own code.
  if (errno === 'ENOSPC' || errno === 'EDQUOT')
    return new StoreError(
      'no_space',
      `${message}: no space left on the builder's data disk (free space or run depot-builder gc)`,
      err,
    );
  const detail = err instanceof Error ? `: ${err.message}` : '';
  return new StoreError('io_error', `${message}${detail}`, err);
}

/** A BlobStore over `<root>/sha256/<ab>/<hex>`, staging uploads in `tmpDir` (same filesystem as `root`). */
export function createBlobStore(
  root: string,
  tmpDir: string,
  opts: {
    /** Makes a pack's bytes durable (tests replace it to hold a flush in the middle). */
    fsync?: (fh: FileHandle) => Promise<void>;
  } = {},
): BlobStore {
  const packs = openPacks(root, tmpDir, { fsync: opts.fsync, syncDir });
  const packed = (digest: string) => packs.get(digest) !== undefined || packs.pending(digest);
  const pathOf = (digest: string): string => {
    const hex = digestHex(digest);
    return join(root, 'sha256', hex.slice(0, 2), hex);
  };

  const has = async (digest: string): Promise<boolean> => {
    const p = pathOf(digest);
    try {
      return (await stat(p)).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw wrapIo(err, `checking blob ${digest} failed`);
    }
  };

  // Blobs are immutable: once seen, a digest stays present, so lookups need not hit the disk again.
  const known = new Set<string>();
  // Deletions in progress by digest: a put of the same digest must not land before the unlink.
  const removing = new Map<string, Promise<void>>();
  let listed = false;
  const listAll = async (): Promise<void> => {
    const base = join(root, 'sha256');
    let subdirs: string[];
    try {
      subdirs = await readdir(base);
    } catch {
      return;
    }
    await Promise.all(
      subdirs.map(async (ab) => {
        for (const hex of await readdir(join(base, ab)).catch(() => [] as string[]))
          if (/^[0-9a-f]{64}$/.test(hex)) known.add(`sha256:${hex}`);
      }),
    );
  };

  return {
    async has(digest) {
      if (known.has(digest) || packed(digest)) return true;
      packs.refresh();
      if (packed(digest)) return true;
      const ok = await has(digest);
      if (ok) known.add(digest);
      return ok;
    },
    async missing(digests) {
      const unique = [...new Set(digests)];
      // Validate all before touching the disk so a bad list fails as a whole.
      for (const d of unique) digestHex(d);
      let unknown = unique.filter((d) => !known.has(d) && !packed(d));
      if (unknown.length) {
        // Another builder process on the same data directory may have packed some since.
        packs.refresh();
        unknown = unknown.filter((d) => !packed(d));
      }
      if (unknown.length > 512 && !listed) {
        // Many unknown digests (a first sync, or a fresh process): one listing beats a stat each.
        listed = true;
        await listAll();
        unknown = unknown.filter((d) => !known.has(d));
      }
      // Bounded parallel stats: a first sync of a large context asks about many digests.
      for (let i = 0; i < unknown.length; i += 256) {
        const batch = unknown.slice(i, i + 256);
        const found = await Promise.all(batch.map(has));
        batch.forEach((d, j) => {
          if (found[j]) known.add(d);
        });
      }
      return unique.filter((d) => !known.has(d) && !packed(d));
    },
    async put(digest, data) {
      const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      if (actual !== digest)
        throw new StoreError('digest_mismatch', `blob ${digest} did not match its digest`);
      await removing.get(digest);
      try {
        await packs.append(digest, data);
      } catch (err) {
        throw wrapIo(err, `storing blob ${digest} failed`);
      }
      crashPoint('mid-upload');
    },
    async flush() {
      try {
        await packs.seal();
      } catch (err) {
        // Not durable: the next flush tries the same pack again, and this caller learns it failed.
        throw wrapIo(err, 'making blobs durable failed');
      }
    },
    async compact() {
      try {
        return await packs.compact();
      } catch (err) {
        throw wrapIo(err, 'compacting blob packs failed');
      }
    },
    async remove(digest) {
      const p = pathOf(digest);
      const previous = removing.get(digest);
      if (previous) await previous;
      // Forget it first: from here on nothing may vouch for the blob without looking at the disk.
      known.delete(digest);
      const fromPack = packs.forget(digest);
      const done = (async () => {
        let size = fromPack;
        try {
          const loose = (await stat(p)).size;
          await unlink(p);
          size = Math.max(size, loose);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
            throw wrapIo(err, `deleting blob ${digest} failed`);
        }
        return size;
      })();
      const guard = done.then(
        () => {},
        () => {},
      );
      removing.set(digest, guard);
      try {
        return await done;
      } finally {
        if (removing.get(digest) === guard) removing.delete(digest);
      }
    },
    async *list() {
      const base = join(root, 'sha256');
      let subdirs: string[];
      try {
        subdirs = (await readdir(base)).sort();
      } catch {
        return;
      }
      const loose = new Set<string>();
      for (const ab of subdirs) {
        for (const hex of (await readdir(join(base, ab)).catch(() => [] as string[])).sort()) {
          if (!/^[0-9a-f]{64}$/.test(hex) || hex.slice(0, 2) !== ab) continue;
          const st = await stat(join(base, ab, hex)).catch(() => undefined);
          if (st?.isFile()) {
            loose.add(`sha256:${hex}`);
            yield { digest: `sha256:${hex}`, size: st.size };
          }
        }
      }
      const inPacks = new Map<string, number>();
      for (const [digest, loc] of packs.entries()) inPacks.set(digest, loc.size);
      // Appended by a sync that has not flushed yet: on disk, and collectable like a loose upload.
      for (const [digest, size] of packs.pendingEntries()) inPacks.set(digest, size);
      for (const [digest, size] of [...inPacks].sort((a, b) => a[0].localeCompare(b[0])))
        if (!loose.has(digest)) yield { digest, size };
    },
    open(digest) {
      const p = pathOf(digest);
      const fromPack = (loc: PackedBlob): NodeJS.ReadableStream => {
        let fd: number;
        try {
          fd = openSync(packs.packPath(loc.pack), 'r');
        } catch (err) {
          throw wrapIo(err, `opening blob ${digest} from its pack failed`);
        }
        // The fd keeps the bytes readable even if a compaction replaces the pack meanwhile.
        if (loc.size === 0) {
          closeSync(fd);
          return Readable.from([]);
        }
        return createReadStream('', { fd, start: loc.offset, end: loc.offset + loc.size - 1 });
      };
      const loc = packs.get(digest);
      if (loc) return fromPack(loc);
      let fd: number;
      try {
        // Open now so a missing blob fails here, not later on the stream.
        fd = openSync(p, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // Perhaps packed by another builder process on the same data directory since.
          packs.refresh();
          const late = packs.get(digest);
          if (late) return fromPack(late);
          throw new StoreError('blob_missing', `blob ${digest} is not in the store`, err);
        }
        throw wrapIo(err, `opening blob ${digest} failed`);
      }
      return createReadStream(p, { fd });
    },
    path: pathOf,
    begin(digest, size) {
      const finalPath = pathOf(digest);
      if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
        throw new StoreError('invalid_size', `invalid size ${size} for blob ${digest}`);
      }
      return new FileBlobWriter(digest, tempPath(tmpDir, 'blob'), finalPath, size, () =>
        removing.get(digest),
      );
    },
  };
}
