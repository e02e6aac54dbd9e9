import type { ContextEntry } from '../../../src/protocol/index.js';
import type { BlobStore, Ownership, Pins, SnapshotStore } from '../store/index.js';

/** How long a directory node written or reused by a sync is kept whether or not a snapshot reaches it yet. */
const NODE_GRACE_MS = 10 * 60_000;

/** What the store collection keeps; the rest goes least recently used first while over budget. */
export interface StorePolicy {
  /** Bytes of blobs and snapshots on disk to stay under (like buildkitd's gckeepstorage). */
  keepBytes: number;
  /** Each project's most recently used snapshots always kept (at least 1). */
  keepRecent: number;
  /** Snapshots used within this many ms are always kept. */
  keepWindowMs: number;
  /** Report what would go without changing anything. */
  dryRun?: boolean;
}

/** What one store collection found and did (or, dry run, would do). */
export interface StoreReport {
  dryRun: boolean;
  /** Bytes of blobs and snapshots on disk before and after. */
  bytesBefore: number;
  bytesAfter: number;
  blobsBefore: number;
  snapshotsBefore: number;
  droppedSnapshotClaims: number;
  droppedBlobClaims: number;
  deletedBlobs: number;
  deletedBlobBytes: number;
  deletedSnapshots: number;
  deletedSnapshotBytes: number;
  /** Things that would have gone but a running sync or build uses them. */
  skippedPinned: number;
}

export interface CollectDeps {
  blobs: BlobStore;
  snapshots: SnapshotStore;
  ownership: Ownership;
  pins: Pins;
  now?: () => number;
}

/**
 * One store collection. Planning reads the disk and the manifests (async); every decision that
 * drops a claim or deletes a file is re-checked against the claims and the pins in the same tick
 * as it is carried out, so a sync or build of this process that starts meanwhile keeps what it uses.
 */
export async function collectStore(deps: CollectDeps, policy: StorePolicy): Promise<StoreReport> {
  const { blobs, snapshots, ownership, pins } = deps;
  const now = (deps.now ?? Date.now)();
  const keepRecent = Math.max(1, Math.floor(policy.keepRecent));
  const dryRun = policy.dryRun === true;

  const blobSize = new Map<string, number>();
  for await (const b of blobs.list()) blobSize.set(b.digest, b.size);
  const snapSize = new Map<string, number>();
  for await (const s of snapshots.list()) snapSize.set(s.id, s.size);
  let usage = sum(blobSize.values()) + sum(snapSize.values());
  const report: StoreReport = {
    dryRun,
    bytesBefore: usage,
    bytesAfter: usage,
    blobsBefore: blobSize.size,
    snapshotsBefore: snapSize.size,
    droppedSnapshotClaims: 0,
    droppedBlobClaims: 0,
    deletedBlobs: 0,
    deletedBlobBytes: 0,
    deletedSnapshots: 0,
    deletedSnapshotBytes: 0,
    skippedPinned: 0,
  };

  // The file digests of each snapshot (a corrupt or missing one references nothing: fsck's to report).
  const filesOf = new Map<string, string[]>();
  const digestsOf = async (id: string): Promise<string[]> => {
    let d = filesOf.get(id);
    if (!d) {
      let entries: ContextEntry[] | undefined;
      try {
        entries = await snapshots.get(id);
      } catch {
        entries = undefined;
      }
      d = [...new Set((entries ?? []).filter((e) => e.type === 'file').map((e) => e.digest))];
      filesOf.set(id, d);
    }
    return d;
  };

  // Simulated state: who holds each blob and snapshot, and how many of a project's snapshots use a blob.
  const holders = new Map<string, Set<string>>();
  const snapHolders = new Map<string, Set<string>>();
  const refs = new Map<string, Map<string, number>>();
  const candidates: Array<{ project: string; id: string; lastUsedMs: number }> = [];
  const projects = ownership.projects();
  for (const project of projects) {
    for (const c of ownership.blobClaims(project)) getSet(holders, c.digest).add(project);
    const r = new Map<string, number>();
    refs.set(project, r);
    const snaps = ownership.snapshotsOf(project);
    for (const [i, s] of snaps.entries()) {
      getSet(snapHolders, s.id).add(project);
      for (const d of await digestsOf(s.id)) r.set(d, (r.get(d) ?? 0) + 1);
      const recent = i < keepRecent || now - s.lastUsedMs <= policy.keepWindowMs;
      if (!recent) candidates.push({ project, id: s.id, lastUsedMs: s.lastUsedMs });
    }
  }
  const pinnedBlob = (d: string) => pins.pinnedBlob(d);

  const blobGone = new Set<string>();
  const snapGone = new Set<string>();
  const freeBlobIfUnheld = (d: string) => {
    if ((holders.get(d)?.size ?? 0) > 0 || !blobSize.has(d) || blobGone.has(d) || pinnedBlob(d)) return;
    blobGone.add(d);
    usage -= blobSize.get(d)!;
  };
  // Files nobody holds (left by a crash between upload and claim, or by an earlier collection's
  // claim drops) are garbage whatever the budget.
  for (const d of blobSize.keys()) freeBlobIfUnheld(d);
  for (const id of snapSize.keys())
    if ((snapHolders.get(id)?.size ?? 0) === 0 && !pins.pinnedSnapshot(id)) {
      snapGone.add(id);
      usage -= snapSize.get(id)!;
    }

  const dropClaims = new Map<string, Set<string>>();
  const dropSnaps = new Map<string, string[]>();
  if (usage > policy.keepBytes) {
    // First what no snapshot uses: claims of uploads whose snapshot was never stored or is gone.
    for (const project of projects) {
      const r = refs.get(project)!;
      for (const c of ownership.blobClaims(project)) {
        if ((r.get(c.digest) ?? 0) > 0) continue;
        if (pinnedBlob(c.digest)) {
          report.skippedPinned++;
          continue;
        }
        getSet(dropClaims, project).add(c.digest);
        holders.get(c.digest)?.delete(project);
        freeBlobIfUnheld(c.digest);
      }
    }
    // Then snapshots, least recently used first, with the blobs only they used.
    candidates.sort((a, b) => a.lastUsedMs - b.lastUsedMs || a.id.localeCompare(b.id));
    for (const c of candidates) {
      if (usage <= policy.keepBytes) break;
      if (pins.pinnedSnapshot(c.id)) {
        report.skippedPinned++;
        continue;
      }
      const list = dropSnaps.get(c.project) ?? [];
      list.push(c.id);
      dropSnaps.set(c.project, list);
      const r = refs.get(c.project)!;
      for (const d of await digestsOf(c.id)) {
        const n = (r.get(d) ?? 1) - 1;
        r.set(d, n);
        if (n > 0 || pinnedBlob(d)) continue;
        getSet(dropClaims, c.project).add(d);
        holders.get(d)?.delete(c.project);
        freeBlobIfUnheld(d);
      }
      const sh = snapHolders.get(c.id);
      sh?.delete(c.project);
      if ((sh?.size ?? 0) === 0 && snapSize.has(c.id) && !snapGone.has(c.id)) {
        snapGone.add(c.id);
        usage -= snapSize.get(c.id)!;
      }
    }
  }

  if (dryRun) {
    report.droppedSnapshotClaims = sum([...dropSnaps.values()].map((l) => l.length));
    report.droppedBlobClaims = sum([...dropClaims.values()].map((s) => s.size));
    report.deletedBlobs = blobGone.size;
    report.deletedBlobBytes = sum([...blobGone].map((d) => blobSize.get(d)!));
    report.deletedSnapshots = snapGone.size;
    report.deletedSnapshotBytes = sum([...snapGone].map((id) => snapSize.get(id)!));
    report.bytesAfter = report.bytesBefore - report.deletedBlobBytes - report.deletedSnapshotBytes;
    return report;
  }

  // Claims: one synchronous pass (no await), re-checked against the pins and against snapshots
  // stored since planning, whose blobs the plan knows nothing of.
  for (const project of projects) {
    const ids = (dropSnaps.get(project) ?? []).filter((id) => {
      if (!pins.pinnedSnapshot(id)) return true;
      report.skippedPinned++;
      return false;
    });
    if (ids.length) {
      ownership.dropSnapshots(project, ids);
      report.droppedSnapshotClaims += ids.length;
    }
    if (!dropClaims.get(project)?.size) continue;
    const current = ownership.snapshotsOf(project);
    if (current.some((s) => !filesOf.has(s.id))) continue; // a new snapshot: leave its blobs for next time
    const keep = new Set<string>(pins.pinnedBlobs());
    for (const s of current) for (const d of filesOf.get(s.id)!) keep.add(d);
    for (const id of pins.pinnedSnapshots()) for (const d of filesOf.get(id) ?? []) keep.add(d);
    report.droppedBlobClaims += ownership.dropBlobsExcept(project, keep);
  }

  // Files: each re-checked (nobody holds it, nothing pins it) in the tick its deletion starts; a
  // put of the same digest waits for the deletion (see BlobStore.remove).
  for (const d of [...blobSize.keys()].sort()) {
    if (ownership.anyHolds(d)) continue;
    if (pins.pinnedBlob(d)) {
      report.skippedPinned++;
      continue;
    }
    const freed = await blobs.remove(d);
    if (freed || blobSize.get(d) === 0) {
      report.deletedBlobs++;
      report.deletedBlobBytes += freed;
    }
  }
  // Packs holding removed blobs are rewritten with only their live ones, so the disk holds what
  // the report counts. A blob found corrupt on the way is dropped with its claims: its projects
  // upload it again at their next sync.
  for (const d of await blobs.compact()) for (const p of ownership.holdersOf(d)) ownership.dropBlobs(p, [d]);
  for (const id of [...snapSize.keys()].sort()) {
    if (ownership.anyHoldsSnapshot(id)) continue;
    if (pins.pinnedSnapshot(id)) {
      report.skippedPinned++;
      continue;
    }
    const freed = await snapshots.remove(id);
    report.deletedSnapshots++;
    report.deletedSnapshotBytes += freed;
  }
  // Directory nodes no remaining snapshot reaches; those a sync wrote or reused lately stay (it
  // stores its root right after them, and the root keeps them from then on).
  if (!dryRun) await snapshots.sweepNodes(now - NODE_GRACE_MS);
  report.bytesAfter = report.bytesBefore - report.deletedBlobBytes - report.deletedSnapshotBytes;
  return report;
}

function getSet<K, V>(m: Map<K, Set<V>>, k: K): Set<V> {
  let s = m.get(k);
  if (!s) {
    s = new Set();
    m.set(k, s);
  }
  return s;
}

function sum(values: Iterable<number>): number {
  let n = 0;
  for (const v of values) n += v;
  return n;
}
