import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createBlobStore, createStore } from './index.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function storeWithGate() {
  const dir = await mkdtemp(join(tmpdir(), 'depot-durable-'));
  dirs.push(dir);
  await mkdir(join(dir, 'tmp'));
  const calls: Array<() => void> = [];
  const blobs = createBlobStore(join(dir, 'blobs'), join(dir, 'tmp'), {
    // Each pack fsync waits until the test lets it finish: the window a concurrent flush must respect.
    fsync: (fh) => new Promise<void>((resolve) => calls.push(() => fh.sync().then(resolve))),
  });
  return { blobs, calls };
}

const settled = async (p: Promise<unknown>): Promise<boolean> => {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  // Several turns of the event loop: anything not waiting on the gate has settled by then.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  return done;
};

test('a flush does not return while an earlier flush that took its blobs is still syncing', async () => {
  const { blobs, calls } = await storeWithGate();
  const a = Buffer.from('blob of sync one');
  const b = Buffer.from('blob of sync two');
  await blobs.put(digestOf(a), a);
  await blobs.put(digestOf(b), b);
  // Sync one flushes first and takes both blobs into its pack's fsync; sync two flushes meanwhile.
  const first = blobs.flush();
  await settled(Promise.resolve());
  assert.equal(calls.length, 1);
  const second = blobs.flush();
  assert.equal(await settled(second), false, 'the second flush returned before its blob was durable');
  calls[0]!();
  await first;
  await second;
});

test('blobs put while a flush runs are made durable by the next flush, not skipped', async () => {
  const { blobs, calls } = await storeWithGate();
  const a = Buffer.from('early');
  const b = Buffer.from('late');
  await blobs.put(digestOf(a), a);
  const first = blobs.flush();
  await settled(Promise.resolve());
  await blobs.put(digestOf(b), b);
  const second = blobs.flush();
  assert.equal(await settled(second), false);
  calls[0]!();
  await first;
  // The second flush needs an fsync of its own for the late blob's pack.
  await settled(Promise.resolve());
  assert.equal(calls.length, 2);
  assert.equal(await settled(second), false);
  calls[1]!();
  await second;
});

test('a removed blob is no longer vouched for by memory', async () => {
  const { blobs, calls } = await storeWithGate();
  const a = Buffer.from('to be collected');
  await blobs.put(digestOf(a), a);
  assert.equal(await blobs.has(digestOf(a)), true);
  assert.equal(await blobs.remove(digestOf(a)), a.length);
  assert.equal(await blobs.has(digestOf(a)), false);
  assert.deepEqual(await blobs.missing([digestOf(a)]), [digestOf(a)]);
  void calls;
});

// A real child process stores blobs and is killed with SIGKILL at a precise point (crash-point.ts);
// the store reopened afterwards must vouch only for blobs whose bytes are whole and durable.
const storeModule = fileURLToPath(new URL('./index.ts', import.meta.url));

async function crashWhileStoring(point: string | undefined, blobs: Buffer[], dataDir?: string) {
  const dir = await mkdtemp(join(tmpdir(), 'depot-pack-crash-'));
  dirs.push(dir);
  const data = dataDir ?? join(dir, 'data');
  const script = join(dir, 'child.mts');
  await writeFile(
    script,
    `import { createStore } from ${JSON.stringify(storeModule)};
const store = await createStore(${JSON.stringify(data)});
const blobs = JSON.parse(process.argv[2]).map((b) => Buffer.from(b, 'base64'));
const { createHash } = await import('node:crypto');
await Promise.all(blobs.map((b) => store.blobs.put('sha256:' + createHash('sha256').update(b).digest('hex'), b)));
await store.blobs.flush();
`,
  );
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', script, JSON.stringify(blobs.map((b) => b.toString('base64')))],
    { env: { ...process.env, DEPOT_TEST_CRASH_AT: point ?? '' }, encoding: 'utf8' },
  );
  return { dir: data, signal: r.signal, status: r.status, stderr: r.stderr };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** Every blob the reopened store vouches for reads back whole; returns the digests it has. */
async function vouched(dataDir: string): Promise<string[]> {
  const store = await createStore(dataDir);
  const out: string[] = [];
  for await (const b of store.blobs.list()) {
    assert.equal(digestOf(await readAll(store.blobs.open(b.digest))), b.digest);
    assert.equal(await store.blobs.has(b.digest), true);
    out.push(b.digest);
  }
  store.ownership.close();
  return out.sort();
}

for (const point of ['mid-upload', 'pack-synced', 'pack-renamed']) {
  test(`a store killed at ${point} vouches for no blob of the unfinished pack, and leaves no temp file`, async () => {
    const blobs = Array.from({ length: 20 }, (_, i) => Buffer.from(`packed blob ${i} `.repeat(50)));
    const r = await crashWhileStoring(point, blobs);
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const store = await createStore(r.dir);
    for (const b of blobs) assert.equal(await store.blobs.has(digestOf(b)), false);
    assert.deepEqual(await readdir(join(r.dir, 'tmp')), []);
    // An unindexed pack is garbage: the next compaction removes it.
    await store.blobs.compact();
    assert.deepEqual(await readdir(join(r.dir, 'blobs', 'packs')), []);
    store.ownership.close();
    assert.deepEqual(await vouched(r.dir), []);
  });
}

test('a store that finished its flush vouches for every blob after a restart', async () => {
  const blobs = Array.from({ length: 20 }, (_, i) => Buffer.from(`kept blob ${i} `.repeat(50)));
  const r = await crashWhileStoring(undefined, blobs);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(await vouched(r.dir), blobs.map(digestOf).sort());
});

test('an index that names bytes its pack does not hold is not trusted', async () => {
  const blobs = [Buffer.from('first '.repeat(100)), Buffer.from('second '.repeat(100))];
  const r = await crashWhileStoring(undefined, blobs);
  assert.equal(r.status, 0, r.stderr);
  const packsDir = join(r.dir, 'blobs', 'packs');
  const pack = (await readdir(packsDir)).find((f) => f.endsWith('.pack'))!;
  await chmod(join(packsDir, pack), 0o644);
  await truncate(join(packsDir, pack), 10);
  assert.deepEqual(await vouched(r.dir), []);
});

test('many small blobs take one pack and one index, not a file each', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-pack-count-'));
  dirs.push(dir);
  const store = await createStore(dir);
  for (let i = 0; i < 200; i++) {
    const b = Buffer.from(`small ${i}`);
    await store.blobs.put(digestOf(b), b);
  }
  await store.blobs.flush();
  const files = (await readdir(join(dir, 'blobs'), { recursive: true, withFileTypes: true })).filter((e) =>
    e.isFile(),
  );
  assert.deepEqual(files.map((f) => f.name.replace(/^.*\./, '')).sort(), ['idx', 'pack']);
  store.ownership.close();
});

test('a blob packed by another process on the same data directory is found and read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-pack-shared-'));
  dirs.push(dir);
  // Opened first: its index predates the other process's pack.
  const reader = await createStore(dir);
  const blob = Buffer.from('from the other builder '.repeat(20));
  const r = await crashWhileStoring(undefined, [blob], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(await reader.blobs.missing([digestOf(blob)]), []);
  assert.deepEqual(await readAll(reader.blobs.open(digestOf(blob))), blob);
  reader.ownership.close();
});
