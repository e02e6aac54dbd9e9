import {
  applyDelta,
  buildTree,
  type ContextEntry,
  type DeltaLimits,
  type ManifestDiff,
  patchEntries,
  sortEntries,
  type TreeResult,
} from '../../../src/protocol/index.js';
import type { BlobStore, BlobWriter } from './blob-store.js';
import { crashPoint, delayPoint } from './crash-point.js';
import { StoreError } from './errors.js';
import type { Ownership } from './ownership.js';
import { createPins, type Pins } from './pins.js';
import type { SnapshotStore } from './snapshot-store.js';

/**
 * The store as one project sees it: the blobs it has proven it holds and the snapshots it stored.
 * RPC handlers get only this view, made once per call from the caller's project, so no handler can
 * reach another project's content by digest or id.
 *
 * Each view holds one pin lease (see pins.ts): what the call uses — the digests of the manifest it
 * syncs, the snapshot it builds — is pinned from its first use, so garbage collection running
 * meanwhile keeps it. A Sync's pins go once its snapshot is stored and claimed, a Build's when the
 * call ends (`release`); a call that goes away unnoticed loses them once idle (pins.ts).
 */
export interface ProjectStore {
  readonly project: string;
  /**
   * The digests of a manifest's files (digest → size) the project must upload: those it has not
   * uploaded itself (even when another project has), and those gone from the disk.
   */
  missing(wanted: ReadonlyMap<string, number>): Promise<string[]>;
  /** Receives one blob (verified on commit); the project holds it once `claim`ed. */
  begin(digest: string, size: number): BlobWriter;
  /** Stores a whole small blob (verified before anything is written). */
  put(digest: string, data: Buffer): Promise<void>;
  /** Makes the blobs stored by `put` durable, then records that the project holds `uploaded`. */
  flushAndClaim(uploaded: Iterable<{ digest: string; size: number }>): Promise<void>;
  /**
   * After a failed sync: makes what it did store durable, unclaimed (garbage for the next
   * collection), so no half-written pack is left in the temp dir. Never throws.
   */
  settle(): Promise<void>;
  /** The bytes of a blob the project holds; StoreError 'blob_missing' otherwise. */
  open(digest: string): NodeJS.ReadableStream;
  /**
   * Stores a manifest as the project's snapshot; every file in it must be a blob the project holds
   * (StoreError 'blob_missing' otherwise). Returns the snapshot id.
   */
  putSnapshot(entries: ContextEntry[]): Promise<string>;
  /**
   * Applies a delta to one of the project's snapshots (loading only the directory nodes on its
   * paths, validating only what it changes); undefined when `baseId` is not the project's. The tree
   * is not stored: `putTree` does that once its new files are uploaded.
   */
  applyDelta(baseId: string, diff: ManifestDiff, opts?: DeltaLimits): Promise<TreeResult | undefined>;
  /**
   * Stores a tree made by `applyDelta` on one of the project's snapshots as the project's snapshot;
   * `files` (digest → size) are the files the delta added, which must be blobs the project holds
   * (the base's were checked when it was stored). Returns the snapshot id.
   */
  putTree(tree: TreeResult, files: ReadonlyMap<string, number>): Promise<string>;
  /** The entries of one of the project's snapshots, sorted; undefined for any other id. */
  snapshot(id: string): Promise<ContextEntry[] | undefined>;
  /** Marks one of the project's snapshots as used now. */
  touch(id: string): void;
  /** Bytes of the distinct blobs the project holds (what its storage quota counts). */
  usageBytes(): number;
  /** The call is done with the store: its pins go now (a later use pins again). */
  release(): void;
}

export interface SharedStore {
  blobs: BlobStore;
  snapshots: SnapshotStore;
  ownership: Ownership;
  /** What running calls use; garbage collection of the same store must see the same pins. */
  pins?: Pins;
}

/** How many recently stored snapshots are kept in memory (per builder) for the builds that follow. */
const RECENT_SNAPSHOTS = 8;

/** Makes project views over one shared store; recent snapshots stay in memory, keyed by project too. */
export function createProjectStores(
  shared: SharedStore,
  now: () => number = Date.now,
): { forProject(project: string): ProjectStore } {
  const { blobs, snapshots, ownership } = shared;
  const pins = shared.pins ?? createPins();
  const recent = new Map<string, ContextEntry[]>();
  // The delta each tree was made from: its entry list follows from the base's, if that is in memory.
  const madeFrom = new WeakMap<TreeResult, { base: string; diff: ManifestDiff }>();
  const remember = (key: string, entries: ContextEntry[]) => {
    recent.delete(key);
    recent.set(key, entries);
    if (recent.size > RECENT_SNAPSHOTS) recent.delete(recent.keys().next().value!);
  };
  return {
    forProject(project) {
      const keyOf = (id: string) => `${project}\0${id}`;
      const lease = pins.lease();
      const store = async (tree: TreeResult, files: ReadonlyMap<string, number>): Promise<string> => {
        lease.blobs(files.keys());
        lease.snapshot(tree.id);
        const notHeld = ownership.missingBlobs(project, files);
        if (notHeld.length)
          throw new StoreError('blob_missing', `blob ${notHeld[0]} was never uploaded by this project`);
        const id = await snapshots.putTree(tree);
        ownership.claimSnapshot(project, id, tree.bytes, now());
        // Claimed (and recently used): the sync is done with its pins.
        lease.release();
        return id;
      };
      return {
        project,
        usageBytes: () => ownership.usageBytes(project),
        async missing(wanted) {
          // Before anything else: a collection must not drop what this sync is about to rely on.
          lease.blobs(wanted.keys());
          const notHeld = ownership.missingBlobs(project, wanted);
          const notHeldSet = new Set(notHeld);
          const held = [...wanted.keys()].filter((d) => !notHeldSet.has(d));
          const gone = new Set(await blobs.missing(held));
          return [...wanted.keys()].filter((d) => notHeldSet.has(d) || gone.has(d));
        },
        begin(digest, size) {
          lease.blobs([digest]);
          return blobs.begin(digest, size);
        },
        put(digest, data) {
          lease.blobs([digest]);
          return blobs.put(digest, data);
        },
        async flushAndClaim(uploaded) {
          await blobs.flush();
          const rows = [...uploaded];
          // A pack dropped after a failed write holds none of its blobs: never claim what is not there.
          const absent = await blobs.missing(rows.map((r) => r.digest));
          if (absent.length)
            throw new StoreError('blob_missing', `blob ${absent[0]} was not stored: send it again`);
          await delayPoint();
          crashPoint('before-claim');
          ownership.claimBlobs(project, rows, now());
          crashPoint('after-claim');
        },
        async settle() {
          await blobs.flush().catch(() => {});
        },
        open(digest) {
          lease.renew();
          if (!ownership.holdsBlob(project, digest))
            throw new StoreError('blob_missing', `blob ${digest} is not in the store`);
          return blobs.open(digest);
        },
        async putSnapshot(entries) {
          const sizes = new Map<string, number>();
          for (const e of entries) if (e.type === 'file') sizes.set(e.digest, e.size);
          const tree = buildTree(entries);
          const id = await store(tree, sizes);
          remember(keyOf(id), sortEntries(entries));
          return id;
        },
        async applyDelta(baseId, diff, opts) {
          lease.snapshot(baseId);
          // Another project's snapshot (and so every node under it) is as unknown as one nobody stored.
          if (!ownership.holdsSnapshot(project, baseId) || !(await snapshots.has(baseId))) return undefined;
          const tree = await applyDelta(baseId, diff, snapshots.node, opts);
          madeFrom.set(tree, { base: baseId, diff });
          return tree;
        },
        async putTree(tree, files) {
          const id = await store(tree, files);
          // The build that follows needs the full entry list: patched from the base's in memory
          // (binary searches), not walked from the tree.
          const from = madeFrom.get(tree);
          const baseEntries = from && recent.get(keyOf(from.base));
          if (baseEntries) remember(keyOf(id), patchEntries(baseEntries, from.diff));
          return id;
        },
        async snapshot(id) {
          lease.snapshot(id);
          if (!ownership.holdsSnapshot(project, id)) return undefined;
          const cached = recent.get(keyOf(id));
          if (cached) return cached;
          const entries = await snapshots.get(id);
          if (entries) remember(keyOf(id), entries);
          return entries;
        },
        touch(id) {
          lease.snapshot(id);
          ownership.touchSnapshot(project, id, now());
        },
        release: () => lease.release(),
      };
    },
  };
}
