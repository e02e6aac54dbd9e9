import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { digestHex, type Store } from '../store/index.js';

/** One thing fsck found wrong. */
export interface FsckProblem {
  kind: 'blob' | 'snapshot';
  /** The digest or snapshot id. */
  id: string;
  /** 'corrupt': the bytes do not hash to the name; 'missing': claimed by a project but not on disk. */
  problem: 'corrupt' | 'missing';
  /** Where the bad file went ('' when nothing was moved). */
  quarantined: string;
  /** Projects whose claim was dropped, so their next sync uploads it again. */
  projects: string[];
}

export interface FsckReport {
  blobs: number;
  snapshots: number;
  bytes: number;
  problems: FsckProblem[];
}

/**
 * Hashes a blob through the store's one read path (a file of its own or a range of a pack),
 * copying its bytes to `copy` when given; '' when it cannot be read.
 */
async function hashBlob(blobs: Store['blobs'], digest: string, copy?: string): Promise<string> {
  const h = createHash('sha256');
  const out = copy ? createWriteStream(copy, { mode: 0o444 }) : undefined;
  try {
    for await (const c of blobs.open(digest) as AsyncIterable<Buffer>) {
      h.update(c);
      if (out && !out.write(c)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    return `sha256:${h.digest('hex')}`;
  } catch {
    return '';
  } finally {
    if (out) {
      out.end();
      await finished(out).catch(() => {});
    }
  }
}

/**
 * Re-hashes every blob and snapshot of the store. A corrupt file moves to `<data>/quarantine/`
 * (kept for inspection, out of the store) and every project's claim on it is dropped, as is any
 * claim on something no longer on disk. Run it under the maintenance lock (no builder serving).
 */
export async function fsckStore(store: Store): Promise<FsckReport> {
  const { blobs, snapshots, ownership } = store;
  const quarantine = join(store.dataDir, 'quarantine');
  const report: FsckReport = { blobs: 0, snapshots: 0, bytes: 0, problems: [] };
  const onDisk = new Set<string>();
  for await (const b of blobs.list()) {
    report.blobs++;
    report.bytes += b.size;
    onDisk.add(b.digest);
    if ((await hashBlob(blobs, b.digest)) === b.digest) continue;
    // Its bytes go to quarantine; the store forgets it (a packed blob's bytes go at compaction).
    await mkdir(join(quarantine, 'blobs'), { recursive: true });
    const to = join(quarantine, 'blobs', digestHex(b.digest));
    await hashBlob(blobs, b.digest, to);
    await blobs.remove(b.digest);
    onDisk.delete(b.digest);
    const projects = ownership.holdersOf(b.digest);
    for (const p of projects) ownership.dropBlobs(p, [b.digest]);
    report.problems.push({ kind: 'blob', id: b.digest, problem: 'corrupt', quarantined: to, projects });
  }
  // Packs that held corrupt blobs are rewritten without them (what compaction finds corrupt too).
  for (const d of await blobs.compact())
    if (!report.problems.some((p) => p.id === d)) {
      onDisk.delete(d);
      const projects = ownership.holdersOf(d);
      for (const p of projects) ownership.dropBlobs(p, [d]);
      report.problems.push({ kind: 'blob', id: d, problem: 'corrupt', quarantined: '', projects });
    }
  const snapsOnDisk = new Set<string>();
  for await (const s of snapshots.list()) {
    report.snapshots++;
    report.bytes += s.size;
    const raw = await snapshots.raw(s.id).catch(() => undefined);
    let ok = false;
    if (raw) {
      // The root and every directory node under it must hash to its name and parse.
      ok = (await snapshots.get(s.id).catch(() => undefined)) !== undefined;
    }
    if (ok) {
      snapsOnDisk.add(s.id);
      continue;
    }
    await mkdir(join(quarantine, 'snapshots'), { recursive: true });
    const to = join(quarantine, 'snapshots', digestHex(s.id));
    await rename(join(store.dataDir, 'snapshots', digestHex(s.id)), to);
    const projects = ownership.snapshotHoldersOf(s.id);
    for (const p of projects) ownership.dropSnapshots(p, [s.id]);
    report.problems.push({ kind: 'snapshot', id: s.id, problem: 'corrupt', quarantined: to, projects });
  }
  // Claims of what is not on disk (or just went to quarantine): the project uploads it again.
  const missingBlobs = new Map<string, string[]>();
  const missingSnaps = new Map<string, string[]>();
  for (const project of ownership.projects()) {
    for (const c of ownership.blobClaims(project))
      if (!onDisk.has(c.digest) && !report.problems.some((p) => p.id === c.digest)) {
        ownership.dropBlobs(project, [c.digest]);
        missingBlobs.set(c.digest, [...(missingBlobs.get(c.digest) ?? []), project]);
      }
    for (const s of ownership.snapshotsOf(project))
      if (!snapsOnDisk.has(s.id) && !report.problems.some((p) => p.id === s.id)) {
        ownership.dropSnapshots(project, [s.id]);
        missingSnaps.set(s.id, [...(missingSnaps.get(s.id) ?? []), project]);
      }
  }
  for (const [id, projects] of missingBlobs)
    report.problems.push({ kind: 'blob', id, problem: 'missing', quarantined: '', projects });
  for (const [id, projects] of missingSnaps)
    report.problems.push({ kind: 'snapshot', id, problem: 'missing', quarantined: '', projects });
  return report;
}
