import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type BlobStore, createBlobStore } from './blob-store.js';
import { StoreError } from './errors.js';
import { type Ownership, openOwnership } from './ownership.js';
import { createPins, type Pins } from './pins.js';
import { createSnapshotStore, type SnapshotStore } from './snapshot-store.js';
import { cleanStaleTemp } from './tmp-dir.js';

/** The builder's on-disk store: blobs, snapshots and the temp dir both stage writes in. */
export interface Store {
  blobs: BlobStore;
  snapshots: SnapshotStore;
  /** Which project holds which blobs and snapshots (`<data>/store.db`). */
  ownership: Ownership;
  /** `<data>/tmp`, on the same filesystem as blobs/ and snapshots/; name files with `tempPath`. */
  tmpDir: string;
  /** What running syncs and builds of this process use (garbage collection skips it). */
  pins: Pins;
  /** The data directory. */
  dataDir: string;
}

/** Opens (creating as needed) the store under `dataDir` and removes temp files left by dead processes. */
export async function createStore(dataDir: string): Promise<Store> {
  const blobsDir = join(dataDir, 'blobs');
  const snapshotsDir = join(dataDir, 'snapshots');
  const tmpDir = join(dataDir, 'tmp');
  try {
    await mkdir(join(blobsDir, 'sha256'), { recursive: true });
    await mkdir(snapshotsDir, { recursive: true });
    await mkdir(tmpDir, { recursive: true });
    await cleanStaleTemp(tmpDir);
  } catch (err) {
    const detail = err instanceof Error ? `: ${err.message}` : '';
    throw new StoreError('io_error', `opening store at ${dataDir} failed${detail}`, err);
  }
  return {
    blobs: createBlobStore(blobsDir, tmpDir),
    snapshots: createSnapshotStore(snapshotsDir, tmpDir),
    ownership: openOwnership(join(dataDir, 'store.db')),
    tmpDir,
    // Test-only: crash and collection tests shorten how long an idle call's pins last.
    pins: createPins(Number(process.env.DEPOT_TEST_PIN_IDLE_MS) || undefined),
    dataDir,
  };
}
