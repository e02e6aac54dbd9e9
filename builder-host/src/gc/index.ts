import type { ImageNamespaces } from '../server/index.js';
import type { Store } from '../store/index.js';
import { collectStore, type StorePolicy, type StoreReport } from './collect.js';
import { collectEngine, type EnginePolicy, type EngineReport } from './engine-gc.js';
import { formatBytes } from './units.js';

export type { StorePolicy, StoreReport } from './collect.js';
export { collectStore } from './collect.js';
export type { EnginePolicy, EngineReport } from './engine-gc.js';
export { collectEngine } from './engine-gc.js';
export type { FsckProblem, FsckReport } from './fsck.js';
export { fsckStore } from './fsck.js';
export { formatBytes } from './units.js';

/** A whole collection's policy: the store's, and the engine's when an engine is given. */
export interface GcPolicy {
  keepBytes: number;
  keepRecent: number;
  keepWindowMs: number;
  /** BuildKit cache budget; undefined leaves the engine's build cache alone. */
  keepBuildCacheBytes?: number;
  dryRun?: boolean;
}

export interface GcReport {
  store: StoreReport;
  engine?: EngineReport;
}

/**
 * One collection: the store (blobs, snapshots, claims) and, with `engine`, the builder's images in
 * its projects' namespaces and (when asked) BuildKit's cache. Call it under the maintenance lock.
 */
export async function runGc(
  store: Store,
  policy: GcPolicy,
  engine?: { host: string; namespaces: ImageNamespaces; held?: (imageId: string) => boolean },
): Promise<GcReport> {
  const storePolicy: StorePolicy = {
    keepBytes: policy.keepBytes,
    keepRecent: policy.keepRecent,
    keepWindowMs: policy.keepWindowMs,
    dryRun: policy.dryRun,
  };
  const report: GcReport = { store: await collectStore(store, storePolicy) };
  if (engine) {
    const prefixes = store.ownership.projects().map((p) => engine.namespaces.forProject(p).prefix);
    const enginePolicy: EnginePolicy = {
      keepBytes: policy.keepBytes,
      keepWindowMs: policy.keepWindowMs,
      keepBuildCacheBytes: policy.keepBuildCacheBytes,
      dryRun: policy.dryRun,
    };
    report.engine = await collectEngine(engine.host, prefixes, enginePolicy, { held: engine.held });
  }
  return report;
}

/** The lines `depot-builder gc` prints. */
export function formatGcReport(r: GcReport): string[] {
  const s = r.store;
  const verb = s.dryRun ? 'would delete' : 'deleted';
  const lines = [
    `store: ${formatBytes(s.bytesBefore)} in ${s.blobsBefore} blobs and ${s.snapshotsBefore} snapshots`,
    `store: ${verb} ${s.deletedBlobs} blobs (${formatBytes(s.deletedBlobBytes)}) and ${s.deletedSnapshots} snapshots (${formatBytes(s.deletedSnapshotBytes)}); ${s.dryRun ? 'would drop' : 'dropped'} ${s.droppedSnapshotClaims} snapshot and ${s.droppedBlobClaims} blob claims; ${formatBytes(s.bytesAfter)} left`,
  ];
  if (s.skippedPinned) lines.push(`store: kept ${s.skippedPinned} in use by a running sync or build`);
  if (r.engine) {
    const e = r.engine;
    lines.push(
      `engine: ${s.dryRun ? 'would remove' : 'removed'} ${e.untagged.length} names of ${e.imagesDeleted} images (${formatBytes(e.imageBytes)})`,
    );
    for (const t of e.untagged) lines.push(`  ${t}`);
    if (e.keptHeld) lines.push(`engine: kept ${e.keptHeld} build results their clients have yet to load`);
    if (e.buildCacheBytes || s.dryRun)
      lines.push(
        `engine: build cache ${s.dryRun ? 'over budget by' : 'reclaimed'} ${formatBytes(e.buildCacheBytes)}`,
      );
  }
  return lines;
}
