import { createHash } from 'node:crypto';
import { readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ContextEntry,
  canonicalManifest,
  parseCanonicalManifest,
  validateManifest,
} from '../../../src/protocol/index.js';
import { syncDir, wrapIo } from './blob-store.js';
import { digestHex, StoreError } from './errors.js';
import { tempPath } from './tmp-dir.js';

/** Build-context manifests stored by snapshot id (sha256 of the canonical manifest). */
export interface SnapshotStore {
  /** Validates (ManifestError on failure, nothing written), stores the canonical manifest and returns its id. */
  put(entries: ContextEntry[]): Promise<string>;
  /** The entries of a stored snapshot, or undefined when unknown; throws StoreError 'invalid_digest' for a malformed id. */
  get(id: string): Promise<ContextEntry[] | undefined>;
  /** True when the snapshot is stored. */
  has(id: string): Promise<boolean>;
  /** Deletes a snapshot file (collection, quarantine); returns its size, 0 when absent. A put of the same id waits for it. */
  remove(id: string): Promise<number>;
  /** Every snapshot file with its size. */
  list(): AsyncIterable<{ id: string; size: number }>;
  /** The file's raw bytes (for checks), or undefined when absent. */
  raw(id: string): Promise<Buffer | undefined>;
}

/** A SnapshotStore over `<root>/<hex>`, staging writes in `tmpDir` (same filesystem as `root`). */
export function createSnapshotStore(root: string, tmpDir: string): SnapshotStore {
  const pathOf = (id: string): string => join(root, digestHex(id));

  const has = async (id: string): Promise<boolean> => {
    const p = pathOf(id);
    try {
      return (await stat(p)).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new StoreError('io_error', `checking snapshot ${id} failed`, err);
    }
  };

  const removing = new Map<string, Promise<void>>();
  return {
    has,
    async put(entries) {
      validateManifest(entries);
      const text = canonicalManifest(entries);
      const id = `sha256:${createHash('sha256').update(text).digest('hex')}`;
      const final = pathOf(id);
      await removing.get(id);
      if (await has(id)) return id;
      const tmp = tempPath(tmpDir, 'snapshot');
      try {
        await writeFile(tmp, text, { mode: 0o444, flush: true });
        await rename(tmp, final);
        // The rename is durable only once the directory is: the claim that follows relies on it.
        await syncDir(root);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw wrapIo(err, `storing snapshot ${id} failed`);
      }
      return id;
    },
    async remove(id) {
      const p = pathOf(id);
      await removing.get(id);
      const done = (async () => {
        try {
          const size = (await stat(p)).size;
          await unlink(p);
          return size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
          throw wrapIo(err, `deleting snapshot ${id} failed`);
        }
      })();
      const guard = done.then(
        () => {},
        () => {},
      );
      removing.set(id, guard);
      try {
        return await done;
      } finally {
        if (removing.get(id) === guard) removing.delete(id);
      }
    },
    async *list() {
      for (const hex of (await readdir(root).catch(() => [] as string[])).sort()) {
        if (!/^[0-9a-f]{64}$/.test(hex)) continue;
        const st = await stat(join(root, hex)).catch(() => undefined);
        if (st?.isFile()) yield { id: `sha256:${hex}`, size: st.size };
      }
    },
    async raw(id) {
      try {
        return await readFile(pathOf(id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw wrapIo(err, `reading snapshot ${id} failed`);
      }
    },
    async get(id) {
      const p = pathOf(id);
      let text: string;
      try {
        text = await readFile(p, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new StoreError('io_error', `reading snapshot ${id} failed`, err);
      }
      // The name is the content's hash: a mismatch means the disk, not the client, is wrong.
      const actual = `sha256:${createHash('sha256').update(text).digest('hex')}`;
      if (actual !== id) throw new StoreError('snapshot_corrupt', `snapshot ${id} is corrupt on disk`);
      try {
        return parseCanonicalManifest(text);
      } catch (err) {
        throw new StoreError('snapshot_corrupt', `snapshot ${id} is corrupt on disk`, err);
      }
    },
  };
}
