import Database from 'better-sqlite3';
import { StoreError } from './errors.js';

/**
 * Which project holds what. Blobs and snapshots are stored once on disk (by digest), but a project
 * sees a blob only after it has uploaded those bytes itself (proof of possession) and a snapshot only
 * after it has stored it itself: the rows here are the projects' views of the shared store. Another
 * project's digest or snapshot id answers exactly as one nobody has.
 *
 * One SQLite file (`<data>/store.db`), written with full fsync: a claim is durable before the Sync
 * that made it is acknowledged.
 */
export interface Ownership {
  /**
   * The digests of `wanted` (digest → declared size) the project has not proven it holds, in input
   * order. A held blob whose stored size differs from the declared one is a StoreError
   * 'size_mismatch': a manifest must describe the bytes it builds with.
   */
  missingBlobs(project: string, wanted: ReadonlyMap<string, number>): string[];
  /** Records that the project uploaded (and the store verified) these blobs. */
  claimBlobs(project: string, blobs: Iterable<{ digest: string; size: number }>, nowMs: number): void;
  /** True when the project has proven it holds the blob. */
  holdsBlob(project: string, digest: string): boolean;
  /** Records that the project stored the snapshot (or used it again); `bytes`: its files' total. */
  claimSnapshot(project: string, id: string, bytes: number, nowMs: number): void;
  /** True when the snapshot is the project's. */
  holdsSnapshot(project: string, id: string): boolean;
  /** Marks a held snapshot as used now (a build, a delta base): garbage collection keeps it longer. */
  touchSnapshot(project: string, id: string, nowMs: number): void;
  /** Bytes of the distinct blobs the project holds (what its storage quota counts). */
  usageBytes(project: string): number;
  /** Every project with rows, for garbage collection and reports. */
  projects(): string[];
  /** The project's snapshots, most recently used first. */
  snapshotsOf(project: string): Array<{ id: string; bytes: number; createdMs: number; lastUsedMs: number }>;
  /** The blobs the project holds, with their sizes. */
  blobClaims(project: string): Array<{ digest: string; size: number }>;
  /** Drops the project's claim on these blobs (fsck: the bytes on disk were wrong). */
  dropBlobs(project: string, digests: readonly string[]): void;
  /** Projects that hold the digest. */
  holdersOf(digest: string): string[];
  /** Projects that hold the snapshot. */
  snapshotHoldersOf(id: string): string[];
  /** Drops the project's claim on these snapshots. */
  dropSnapshots(project: string, ids: readonly string[]): void;
  /** Drops the project's claim on every blob not in `keep`; returns how many claims went. */
  dropBlobsExcept(project: string, keep: ReadonlySet<string>): number;
  /** True when some project holds the digest (a blob nobody holds may be deleted from disk). */
  anyHolds(digest: string): boolean;
  /** True when some project holds the snapshot. */
  anyHoldsSnapshot(id: string): boolean;
  close(): void;
}

/** How many digests one lookup query carries. */
const LOOKUP_BATCH = 500;

export function openOwnership(file: string): Ownership {
  let db: Database.Database;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(`
      CREATE TABLE IF NOT EXISTS project_blobs (
        project TEXT NOT NULL,
        digest TEXT NOT NULL,
        size INTEGER NOT NULL,
        claimed_ms INTEGER NOT NULL,
        PRIMARY KEY (project, digest)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS project_blobs_digest ON project_blobs (digest);
      CREATE TABLE IF NOT EXISTS project_snapshots (
        project TEXT NOT NULL,
        id TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        last_used_ms INTEGER NOT NULL,
        PRIMARY KEY (project, id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS project_snapshots_id ON project_snapshots (id);
    `);
  } catch (err) {
    throw new StoreError('io_error', `opening ${file} failed: ${(err as Error).message}`, err);
  }
  const lookup = db.prepare<[string, string]>(
    // The primary key answers each digest: a join on json_each let the planner scan the project's rows.
    'SELECT digest, size FROM project_blobs WHERE digest IN (SELECT value FROM json_each(?)) AND project = ?',
  );
  const insertBlob = db.prepare<[string, string, number, number]>(
    'INSERT OR IGNORE INTO project_blobs (project, digest, size, claimed_ms) VALUES (?, ?, ?, ?)',
  );
  const holdsBlobQ = db.prepare<[string, string]>(
    'SELECT 1 FROM project_blobs WHERE project = ? AND digest = ?',
  );
  const upsertSnapshot = db.prepare<[string, string, number, number, number]>(
    `INSERT INTO project_snapshots (project, id, bytes, created_ms, last_used_ms) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (project, id) DO UPDATE SET last_used_ms = excluded.last_used_ms`,
  );
  const holdsSnapshotQ = db.prepare<[string, string]>(
    'SELECT 1 FROM project_snapshots WHERE project = ? AND id = ?',
  );
  const touch = db.prepare<[number, string, string]>(
    'UPDATE project_snapshots SET last_used_ms = ? WHERE project = ? AND id = ?',
  );
  const usage = db.prepare<[string]>('SELECT COALESCE(SUM(size), 0) FROM project_blobs WHERE project = ?');
  const projectsQ = db.prepare<[]>(
    'SELECT project FROM project_blobs UNION SELECT project FROM project_snapshots ORDER BY 1',
  );
  const snapshotsQ = db.prepare<[string]>(
    'SELECT id, bytes, created_ms, last_used_ms FROM project_snapshots WHERE project = ? ORDER BY last_used_ms DESC, id',
  );
  const dropSnapshot = db.prepare<[string, string]>(
    'DELETE FROM project_snapshots WHERE project = ? AND id = ?',
  );
  const blobsOf = db.prepare<[string]>('SELECT digest FROM project_blobs WHERE project = ?');
  const dropBlob = db.prepare<[string, string]>('DELETE FROM project_blobs WHERE project = ? AND digest = ?');
  const anyBlob = db.prepare<[string]>('SELECT 1 FROM project_blobs WHERE digest = ? LIMIT 1');
  const anySnapshot = db.prepare<[string]>('SELECT 1 FROM project_snapshots WHERE id = ? LIMIT 1');
  const claimsQ = db.prepare<[string]>(
    'SELECT digest, size FROM project_blobs WHERE project = ? ORDER BY digest',
  );
  const holdersQ = db.prepare<[string]>('SELECT project FROM project_blobs WHERE digest = ? ORDER BY 1');
  const snapHoldersQ = db.prepare<[string]>('SELECT project FROM project_snapshots WHERE id = ? ORDER BY 1');
  const dropBlobsTx = db.transaction((project: string, digests: readonly string[]) => {
    for (const d of digests) dropBlob.run(project, d);
  });

  const claimAll = db.transaction(
    (project: string, rows: Array<{ digest: string; size: number }>, now: number) => {
      for (const r of rows) insertBlob.run(project, r.digest, r.size, now);
    },
  );
  const dropAll = db.transaction((project: string, ids: readonly string[]) => {
    for (const id of ids) dropSnapshot.run(project, id);
  });
  const dropExcept = db.transaction((project: string, keep: ReadonlySet<string>) => {
    let n = 0;
    for (const d of blobsOf.pluck().all(project) as string[])
      if (!keep.has(d)) n += dropBlob.run(project, d).changes;
    return n;
  });

  return {
    missingBlobs(project, wanted) {
      const digests = [...wanted.keys()];
      const held = new Map<string, number>();
      for (let i = 0; i < digests.length; i += LOOKUP_BATCH) {
        const batch = JSON.stringify(digests.slice(i, i + LOOKUP_BATCH));
        for (const row of lookup.all(batch, project) as Array<{ digest: string; size: number }>)
          held.set(row.digest, row.size);
      }
      const out: string[] = [];
      for (const [digest, size] of wanted) {
        const have = held.get(digest);
        if (have === undefined) out.push(digest);
        else if (have !== size)
          throw new StoreError(
            'size_mismatch',
            `blob ${digest} is ${have} bytes, but the manifest says ${size}: send a manifest that matches its files`,
          );
      }
      return out;
    },
    claimBlobs(project, blobs, nowMs) {
      const rows = [...blobs];
      if (rows.length) claimAll(project, rows, nowMs);
    },
    holdsBlob: (project, digest) => holdsBlobQ.get(project, digest) !== undefined,
    claimSnapshot(project, id, bytes, nowMs) {
      upsertSnapshot.run(project, id, bytes, nowMs, nowMs);
    },
    holdsSnapshot: (project, id) => holdsSnapshotQ.get(project, id) !== undefined,
    touchSnapshot(project, id, nowMs) {
      touch.run(nowMs, project, id);
    },
    usageBytes: (project) => Number(usage.pluck().get(project) ?? 0),
    projects: () => projectsQ.pluck().all() as string[],
    snapshotsOf: (project) =>
      (
        snapshotsQ.all(project) as Array<{
          id: string;
          bytes: number;
          created_ms: number;
          last_used_ms: number;
        }>
      ).map((r) => ({ id: r.id, bytes: r.bytes, createdMs: r.created_ms, lastUsedMs: r.last_used_ms })),
    blobClaims: (project) => claimsQ.all(project) as Array<{ digest: string; size: number }>,
    dropBlobs(project, digests) {
      dropBlobsTx(project, digests);
    },
    holdersOf: (digest) => holdersQ.pluck().all(digest) as string[],
    snapshotHoldersOf: (id) => snapHoldersQ.pluck().all(id) as string[],
    dropSnapshots(project, ids) {
      dropAll(project, ids);
    },
    dropBlobsExcept: (project, keep) => dropExcept(project, keep),
    anyHolds: (digest) => anyBlob.get(digest) !== undefined,
    anyHoldsSnapshot: (id) => anySnapshot.get(id) !== undefined,
    close() {
      if (db.open) db.close();
    },
  };
}
