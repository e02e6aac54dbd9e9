import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileEntry as file, sha } from '../../../test/security/rpc.js';
import { acquireMaintenance, createProjectStores, createStore, type Store } from '../store/index.js';
import { collectStore } from './collect.js';
import { fsckStore } from './fsck.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function fresh() {
  const dir = await mkdtemp(join(tmpdir(), 'depot-gc-'));
  dirs.push(dir);
  const store = await createStore(dir);
  let clock = 1_000_000;
  const stores = createProjectStores(store, () => clock);
  return {
    dir,
    store,
    stores,
    setClock: (t: number) => {
      clock = t;
    },
  };
}

/** One whole sync through a project's view: upload what is missing, claim, store the snapshot. */
async function sync(
  stores: ReturnType<typeof createProjectStores>,
  project: string,
  files: Record<string, string>,
) {
  const s = stores.forProject(project);
  const entries = Object.entries(files).map(([p, c]) => file(p, c));
  const sizes = new Map(entries.map((e) => [e.digest, e.size]));
  const missing = await s.missing(sizes);
  for (const e of entries) if (missing.includes(e.digest)) await s.put(e.digest, Buffer.from(files[e.path]!));
  await s.flushAndClaim(missing.map((d) => ({ digest: d, size: sizes.get(d)! })));
  return s.putSnapshot(entries);
}

const policy = { keepBytes: 0, keepRecent: 1, keepWindowMs: 0 };
const onDisk = async (store: Store) => {
  const out: string[] = [];
  for await (const b of store.blobs.list()) out.push(b.digest);
  return out;
};

test('over budget, the least recently used snapshots go with the blobs only they used', async () => {
  const { store, stores, setClock } = await fresh();
  setClock(1000);
  const old = await sync(stores, 'web', { 'a.txt': 'old only', 'shared.txt': 'shared' });
  setClock(2000);
  const mid = await sync(stores, 'web', { 'b.txt': 'mid only', 'shared.txt': 'shared' });
  setClock(3000);
  const last = await sync(stores, 'web', { 'c.txt': 'newest', 'shared.txt': 'shared' });
  await sync(stores, 'api', { 'a.txt': 'old only' }); // another project holds this blob too

  const dry = await collectStore(store, { ...policy, dryRun: true });
  assert.equal(dry.droppedSnapshotClaims, 2);
  assert.equal((await onDisk(store)).length, 4, 'a dry run changes nothing');

  const r = await collectStore(store, { ...policy, now: undefined } as typeof policy);
  assert.equal(r.droppedSnapshotClaims, 2);
  assert.deepEqual(
    store.ownership.snapshotsOf('web').map((s) => s.id),
    [last],
  );
  const left = await onDisk(store);
  assert.ok(left.includes(sha('newest')) && left.includes(sha('shared')));
  assert.ok(left.includes(sha('old only')), "api's blob stays");
  assert.ok(!left.includes(sha('mid only')), 'a blob only a dropped snapshot used goes');
  assert.equal(store.ownership.holdsBlob('web', sha('old only')), false);
  assert.equal(await store.snapshots.has(old), false);
  assert.equal(await store.snapshots.has(mid), false);
  assert.equal(await store.snapshots.has(last), true);
  assert.equal(r.deletedBlobs, 1);
  assert.equal(r.deletedSnapshots, 2);
  assert.ok(r.bytesAfter < r.bytesBefore);
});

test('under budget, or inside the keep window, nothing claimed goes', async () => {
  const { store, stores, setClock } = await fresh();
  setClock(Date.now() - 1000);
  await sync(stores, 'web', { 'a.txt': 'one' });
  await sync(stores, 'web', { 'b.txt': 'two' });
  const big = await collectStore(store, { ...policy, keepBytes: 1 << 30 });
  assert.equal(big.deletedBlobs + big.droppedSnapshotClaims, 0);
  const windowed = await collectStore(store, { ...policy, keepWindowMs: 3_600_000 });
  assert.equal(windowed.deletedBlobs + windowed.droppedSnapshotClaims, 0);
  assert.equal((await onDisk(store)).length, 2);
});

test('a collection while a sync uploads keeps its blobs, and the sync completes', async () => {
  const { store, stores } = await fresh();
  await sync(stores, 'web', { 'held.txt': 'held before' });
  await sync(stores, 'web', { 'other.txt': 'newer' }); // held.txt's snapshot is now the LRU one
  // A sync in progress: it relies on held.txt (not asked again) and has uploaded new.txt unclaimed.
  const s = stores.forProject('web');
  const entries = [file('held.txt', 'held before'), file('new.txt', 'uploading')];
  const sizes = new Map(entries.map((e) => [e.digest, e.size]));
  const missing = await s.missing(sizes);
  assert.deepEqual(missing, [sha('uploading')]);
  await s.put(sha('uploading'), Buffer.from('uploading'));

  const r = await collectStore(store, policy);
  assert.ok(r.skippedPinned > 0);
  assert.ok((await onDisk(store)).includes(sha('uploading')), 'the unclaimed upload survives');
  assert.ok((await onDisk(store)).includes(sha('held before')), 'the held blob the sync relies on survives');

  await s.flushAndClaim([{ digest: sha('uploading'), size: 9 }]);
  const id = await s.putSnapshot(entries);
  const build = stores.forProject('web');
  const back = await build.snapshot(id);
  assert.equal(back?.length, 2);
  for (const e of back!) {
    const chunks: Buffer[] = [];
    for await (const c of build.open(e.digest) as AsyncIterable<Buffer>) chunks.push(c);
    assert.equal(sha(Buffer.concat(chunks)), e.digest);
  }
});

test('without its pins the same race loses the sync its blobs (the pins are what protect it)', async () => {
  const { store, stores } = await fresh();
  const s = stores.forProject('web');
  const e = file('new.txt', 'uploading');
  await s.missing(new Map([[e.digest, e.size]]));
  await s.put(e.digest, Buffer.from('uploading'));
  const noPins = {
    ...store,
    pins: {
      ...store.pins,
      pinnedBlob: () => false,
      pinnedSnapshot: () => false,
      pinnedBlobs: () => [],
      pinnedSnapshots: () => [],
    },
  };
  await collectStore(noPins, policy);
  assert.ok(!(await onDisk(store)).includes(e.digest));
});

test('a blob in a build snapshot stays while the build uses it, even beyond budget', async () => {
  const { store, stores, setClock } = await fresh();
  setClock(1000);
  const first = await sync(stores, 'web', { 'a.txt': 'built now' });
  setClock(2000);
  await sync(stores, 'web', { 'b.txt': 'newer' });
  const build = stores.forProject('web');
  await build.snapshot(first); // the build starts: its snapshot is pinned
  const r = await collectStore(store, policy);
  assert.ok(r.skippedPinned > 0);
  assert.equal(store.ownership.holdsSnapshot('web', first), true);
  assert.ok((await onDisk(store)).includes(sha('built now')));
});

test('fsck moves corrupt blobs and snapshots to quarantine and drops their claims', async () => {
  const { dir, store, stores } = await fresh();
  const id = await sync(stores, 'web', { 'a.txt': 'good bytes', 'b.txt': 'soon bad' });
  assert.deepEqual((await fsckStore(store)).problems, []);
  // Small blobs are packed: flip the bytes of one inside its pack.
  const p = join(
    dir,
    'blobs',
    'packs',
    (await readdir(join(dir, 'blobs', 'packs'))).find((f) => f.endsWith('.pack'))!,
  );
  await chmod(p, 0o644);
  const bytes = await readFile(p);
  const at = bytes.indexOf('soon bad');
  assert.ok(at >= 0);
  bytes.write('rotten!!', at);
  await writeFile(p, bytes);
  const r = await fsckStore(store);
  assert.deepEqual(
    r.problems.map((x) => [x.kind, x.id, x.problem, x.projects]),
    [['blob', sha('soon bad'), 'corrupt', ['web']]],
  );
  assert.deepEqual(await readdir(join(dir, 'quarantine', 'blobs')), [sha('soon bad').slice(7)]);
  assert.equal(store.ownership.holdsBlob('web', sha('soon bad')), false);
  // The next sync of the same files uploads the bad one again.
  const again = stores.forProject('web');
  const entries = [file('a.txt', 'good bytes'), file('b.txt', 'soon bad')];
  assert.deepEqual(await again.missing(new Map(entries.map((e) => [e.digest, e.size]))), [sha('soon bad')]);
  // A snapshot file that does not hash to its id.
  const sp = join(dir, 'snapshots', id.slice(7));
  await chmod(sp, 0o644);
  await writeFile(sp, 'tampered');
  const r2 = await fsckStore(store);
  assert.deepEqual(
    r2.problems.map((x) => [x.kind, x.problem]),
    [['snapshot', 'corrupt']],
  );
  assert.equal(store.ownership.holdsSnapshot('web', id), false);
  assert.deepEqual((await fsckStore(store)).problems, []);
});

test('the maintenance lock refuses while another live builder serves the data dir', async () => {
  const { dir } = await fresh();
  const release = await acquireMaintenance(dir);
  await assert.rejects(acquireMaintenance(dir), /another gc or fsck/);
  await release();
  // The parent of this test process is alive: registered as a builder, it blocks maintenance.
  await writeFile(join(dir, 'run', `builder-${process.ppid}`), '');
  await assert.rejects(acquireMaintenance(dir), (err: Error) => {
    assert.match(err.message, new RegExp(`a builder \\(pid ${process.ppid}\\) is serving`));
    return true;
  });
  // A dead one (kill -9 leaves its file) does not.
  await rm(join(dir, 'run', `builder-${process.ppid}`));
  await writeFile(join(dir, 'run', 'builder-4194305'), '');
  await (await acquireMaintenance(dir))();
});

/** The bytes of every pack file on disk. */
async function packBytes(dir: string): Promise<number> {
  const packs = join(dir, 'blobs', 'packs');
  let n = 0;
  for (const f of await readdir(packs)) if (f.endsWith('.pack')) n += (await stat(join(packs, f))).size;
  return n;
}

test('collected packed blobs leave the disk: their pack is rewritten with the live ones, or dropped when empty', async () => {
  const { dir, store, stores, setClock } = await fresh();
  setClock(1000);
  // One sync, one pack holding both blobs; the next sync keeps only one of them.
  await sync(stores, 'web', { 'gone.txt': 'x'.repeat(4000), 'kept.txt': 'k'.repeat(1000) });
  setClock(2000);
  const last = await sync(stores, 'web', { 'kept.txt': 'k'.repeat(1000) });
  assert.equal(await packBytes(dir), 5000);

  const r = await collectStore(store, policy);
  assert.equal(r.deletedBlobs, 1);
  assert.equal(r.deletedBlobBytes, 4000);
  // The budget counts what is on disk: the removed blob's bytes are gone from the packs too.
  assert.equal(await packBytes(dir), 1000);
  const back = stores.forProject('web');
  assert.equal((await back.snapshot(last))?.length, 1);
  const chunks: Buffer[] = [];
  for await (const c of back.open(sha('k'.repeat(1000))) as AsyncIterable<Buffer>) chunks.push(c);
  assert.equal(Buffer.concat(chunks).toString(), 'k'.repeat(1000));
  assert.deepEqual((await fsckStore(store)).problems, []);

  // Nothing held any more: the pack and its index go.
  store.ownership.dropSnapshots('web', [last]);
  store.ownership.dropBlobsExcept('web', new Set());
  await collectStore(store, policy);
  assert.deepEqual(await readdir(join(dir, 'blobs', 'packs')), []);
  assert.deepEqual(await onDisk(store), []);
});

test('a compaction does not copy a packed blob whose bytes no longer match its digest', async () => {
  const { dir, store, stores, setClock } = await fresh();
  setClock(1000);
  await sync(stores, 'web', { 'gone.txt': 'g'.repeat(100), 'bad.txt': 'b'.repeat(100) });
  setClock(2000);
  await sync(stores, 'web', { 'bad.txt': 'b'.repeat(100) });
  const packs = join(dir, 'blobs', 'packs');
  const p = join(packs, (await readdir(packs)).find((f) => f.endsWith('.pack'))!);
  await chmod(p, 0o644);
  const bytes = await readFile(p);
  bytes.write('B', bytes.indexOf('b'.repeat(100)));
  await writeFile(p, bytes);
  // Collecting gone.txt rewrites the pack: the corrupt blob is dropped, not carried along.
  await collectStore(store, policy);
  assert.equal(await store.blobs.has(sha('b'.repeat(100))), false);
  assert.equal(store.ownership.holdsBlob('web', sha('b'.repeat(100))), false);
  assert.deepEqual((await fsckStore(store)).problems, []);
  // The project uploads it again at its next sync.
  const again = stores.forProject('web');
  assert.deepEqual(await again.missing(new Map([[sha('b'.repeat(100)), 100]])), [sha('b'.repeat(100))]);
});
