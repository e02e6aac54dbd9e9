import { createHash, type Hash } from 'node:crypto';
import { createReadStream, openSync } from 'node:fs';
import { type FileHandle, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { digestHex, StoreError } from './errors.js';
import { tempPath } from './tmp-dir.js';

/** Content-addressed, immutable blobs under `<data>/blobs/sha256/<ab>/<hex>`. */
export interface BlobStore {
  /** True when the blob is in the store; throws StoreError 'invalid_digest' for a malformed digest. */
  has(digest: string): Promise<boolean>;
  /** The digests not in the store, unique, in input order. */
  missing(digests: Iterable<string>): Promise<string[]>;
  /** A stream of the blob's bytes; throws StoreError 'blob_missing' (synchronously) when absent. */
  open(digest: string): NodeJS.ReadableStream;
  /** Where the blob lives (or would live) on disk. */
  path(digest: string): string;
  /**
   * Starts receiving one blob; bytes go to a temp file (in the store's tmp dir, same filesystem),
   * hashed as written. `size`, when given, is checked too.
   */
  begin(digest: string, size?: number): BlobWriter;
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
async function syncDir(dir: string): Promise<void> {
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

function wrapIo(err: unknown, message: string): StoreError {
  if (err instanceof StoreError) return err;
  const detail = err instanceof Error ? `: ${err.message}` : '';
  return new StoreError('io_error', `${message}${detail}`, err);
}

/** A BlobStore over `<root>/sha256/<ab>/<hex>`, staging uploads in `tmpDir` (same filesystem as `root`). */
export function createBlobStore(root: string, tmpDir: string): BlobStore {
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

  return {
    has,
    async missing(digests) {
      const unique = [...new Set(digests)];
      // Validate all before touching the disk so a bad list fails as a whole.
      for (const d of unique) digestHex(d);
      const present = await Promise.all(unique.map(has));
      return unique.filter((_, i) => !present[i]);
    },
    open(digest) {
      const p = pathOf(digest);
      let fd: number;
      try {
        // Open now so a missing blob fails here, not later on the stream.
        fd = openSync(p, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
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
      return new FileBlobWriter(digest, tempPath(tmpDir, 'blob'), finalPath, size);
    },
  };
}
