import { createHash } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ContextEntry,
  canonicalManifest,
  parseCanonicalManifest,
  validateManifest,
} from '../../../src/protocol/index.js';
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

  return {
    has,
    async put(entries) {
      validateManifest(entries);
      const text = canonicalManifest(entries);
      const id = `sha256:${createHash('sha256').update(text).digest('hex')}`;
      const final = pathOf(id);
      if (await has(id)) return id;
      const tmp = tempPath(tmpDir, 'snapshot');
      try {
        await writeFile(tmp, text, { mode: 0o444, flush: true });
        await rename(tmp, final);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw new StoreError('io_error', `storing snapshot ${id} failed`, err);
      }
      return id;
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
