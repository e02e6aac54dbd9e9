/**
 * Delta-apply micro-benchmark: a one-file change to a 20,000-entry snapshot, on the builder (apply
 * the delta to the stored base: load, validate, re-hash; then store and claim) and on the client
 * (diff against the acknowledged base, compute the expected snapshot id). Real store on a temp dir,
 * no gRPC, no engine. `node --import tsx bench/delta-apply.ts` (DEPOT_BENCH_FILES, DEPOT_BENCH_RUNS).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkFileSize, checkManifestSize, DEFAULT_LIMITS } from '../builder-host/src/server/limits.js';
import { createProjectStores, createStore } from '../builder-host/src/store/index.js';
import {
  applyDelta,
  buildTree,
  type ContextEntry,
  diffManifests,
  memoryNodes,
} from '../src/protocol/index.js';

const FILES = Number(process.env.DEPOT_BENCH_FILES ?? 20000);
const RUNS = Number(process.env.DEPOT_BENCH_RUNS ?? 30);
const PER_DIR = 500;

const digest = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// The layout of bench/dev.ts: 40 folders of 500 files.
const entries: ContextEntry[] = [];
const base = { mode: 0o644, uid: 0, gid: 0, link: '' };
for (let k = 0; k * PER_DIR < FILES; k++) {
  entries.push({ ...base, path: `d${k}`, type: 'dir', mode: 0o755, size: 0, mtimeMs: 1, digest: '' });
  for (let i = k * PER_DIR; i < Math.min(FILES, (k + 1) * PER_DIR); i++)
    entries.push({
      ...base,
      path: `d${k}/f${i}.bin`,
      type: 'file',
      size: `x${i}`.length,
      mtimeMs: 1,
      digest: digest(`x${i}`),
    });
}
entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

const dir = await mkdtemp(join(tmpdir(), 'depot-bench-delta-'));
const store = await createStore(dir);
const project = createProjectStores(store).forProject('bench');
const digests = new Map(entries.filter((e) => e.type === 'file').map((e) => [e.digest, e.size]));
store.ownership.claimBlobs(
  'bench',
  [...digests].map(([d, size]) => ({ digest: d, size })),
  Date.now(),
);
let baseId = await project.putSnapshot(entries);
// The changed file's bytes are on disk (its mtime changes, not its content: nothing to upload).
await store.blobs.put(digest('x1600'), Buffer.from('x1600'));
await store.blobs.flush();

const client = memoryNodes();
client.add(buildTree(entries).nodes);
let clientBase = entries;
const target = entries.findIndex((e) => e.path === 'd3/f1600.bin');

const builderApply: number[] = [];
const builderTotal: number[] = [];
const clientTimes: number[] = [];
for (let r = 0; r < RUNS; r++) {
  // The incremental scan's shape: a new array sharing every unchanged entry object.
  const next = [...clientBase];
  next[target] = { ...next[target]!, mtimeMs: 2 + r };
  const c0 = performance.now();
  const diff = diffManifests(clientBase, next);
  const expected = await applyDelta(baseId, diff, client.source);
  clientTimes.push(performance.now() - c0);
  client.add(expected.nodes);

  // What the Sync handler does with a delta once the begin message is decoded.
  const t0 = performance.now();
  checkManifestSize(DEFAULT_LIMITS, diff.upserts.length);
  const tree = await project.applyDelta(baseId, diff, {
    checkEntry: (e) => e.type === 'file' && checkFileSize(DEFAULT_LIMITS, e.path, e.size),
  });
  if (!tree || tree.id !== expected.id) throw new Error('builder and client disagree');
  checkManifestSize(DEFAULT_LIMITS, tree.entries);
  const sizes = new Map(diff.upserts.filter((e) => e.type === 'file').map((e) => [e.digest, e.size]));
  await project.missing(sizes);
  const t1 = performance.now();
  baseId = await project.putTree(tree, sizes);
  builderApply.push(t1 - t0);
  builderTotal.push(performance.now() - t0);
  clientBase = next;
}
// A build after the sync reads the full entry list (the session's stat list): patched from the
// base's in memory; a walk of the tree when the base is not there (another builder process).
const patched: number[] = [];
const walks: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  const view = await project.snapshot(baseId);
  patched.push(performance.now() - t0);
  const t1 = performance.now();
  const all = await store.snapshots.get(baseId);
  walks.push(performance.now() - t1);
  if (all?.length !== entries.length || view?.length !== entries.length) throw new Error('lost entries');
}
const fmt = (n: number) => `${n.toFixed(2)} ms`;
console.log(`delta apply, 1 file of ${entries.length} entries, median of ${RUNS}`);
console.log(`  builder: load + validate + re-hash   ${fmt(median(builderApply))}`);
console.log(`  builder: + store nodes, claim        ${fmt(median(builderTotal))}`);
console.log(`  client:  diff + expected id          ${fmt(median(clientTimes))}`);
console.log(`  build:   full entry list (in memory)  ${fmt(median(patched))}`);
console.log(`  build:   full entry list (tree walk) ${fmt(median(walks))}`);
store.ownership.close();
await rm(dir, { recursive: true, force: true });
