/**
 * What running syncs and builds use right now, so garbage collection leaves it alone.
 *
 * A pin is held by a lease: one RPC call's view of the store (see ProjectStore). The call's first
 * use of a digest or snapshot pins it; every later use renews the lease; the lease ends when the
 * call releases it (a Sync once its snapshot is claimed) or when it has been idle for `idleMs` (a
 * call that went away without saying so, a build whose context is fully read). Pinning is
 * synchronous, so a collector that checks pins in the same tick as it decides cannot race a call.
 */
export interface Pins {
  /** A new lease; pins nothing until used. */
  lease(): PinLease;
  /** True when a live lease pins this blob digest. */
  pinnedBlob(digest: string): boolean;
  /** True when a live lease pins this snapshot id. */
  pinnedSnapshot(id: string): boolean;
  /** Every snapshot id pinned by a live lease (their blobs count as pinned too). */
  pinnedSnapshots(): string[];
  /** Every blob digest pinned by a live lease. */
  pinnedBlobs(): string[];
}

export interface PinLease {
  /** Pins blob digests (and renews the lease). */
  blobs(digests: Iterable<string>): void;
  /** Pins a snapshot id (and renews the lease). */
  snapshot(id: string): void;
  /** Renews the lease without pinning more. */
  renew(): void;
  /** Ends the lease: its pins go at once. */
  release(): void;
}

/** How long a lease outlives its last use by default. */
export const PIN_IDLE_MS = 10 * 60_000;

/** A pin registry; `now` is injectable for tests. */
export function createPins(idleMs = PIN_IDLE_MS, now: () => number = Date.now): Pins {
  interface Lease {
    blobs: Set<string>;
    snapshots: Set<string>;
    until: number;
  }
  const leases = new Set<Lease>();
  const live = (): Lease[] => {
    const t = now();
    const out: Lease[] = [];
    for (const l of leases) {
      if (l.until < t) leases.delete(l);
      else out.push(l);
    }
    return out;
  };
  return {
    lease() {
      const l: Lease = { blobs: new Set(), snapshots: new Set(), until: now() + idleMs };
      const hold = () => {
        l.until = now() + idleMs;
        leases.add(l);
      };
      return {
        blobs(digests) {
          hold();
          for (const d of digests) l.blobs.add(d);
        },
        snapshot(id) {
          hold();
          l.snapshots.add(id);
        },
        renew() {
          if (l.blobs.size || l.snapshots.size) hold();
        },
        release() {
          leases.delete(l);
          l.blobs.clear();
          l.snapshots.clear();
        },
      };
    },
    pinnedBlob: (digest) => live().some((l) => l.blobs.has(digest)),
    pinnedSnapshot: (id) => live().some((l) => l.snapshots.has(id)),
    pinnedSnapshots: () => [...new Set(live().flatMap((l) => [...l.snapshots]))],
    pinnedBlobs: () => [...new Set(live().flatMap((l) => [...l.blobs]))],
  };
}
