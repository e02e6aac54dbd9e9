import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { type ContextEntry, ManifestError, snapshotId } from '../../../src/protocol/index.js';
import { createStore, StoreError, tempPath } from './index.js';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function fresh() {
  const dir = await mkdtemp(join(tmpdir(), 'depot-store-'));
  dirs.push(dir);
  return { dir, ...(await createStore(dir)) };
}

function digestOf(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  }
  return out;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

function isStoreError(code: string) {
  return (err: unknown) => err instanceof StoreError && err.code === code;
}

test('a committed blob is stored by digest and reads back', async () => {
  const { dir, blobs } = await fresh();
  const data = Buffer.from('hello, builder\n');
  const digest = digestOf(data);
  assert.equal(await blobs.has(digest), false);
  const w = blobs.begin(digest, data.length);
  await w.write(data.subarray(0, 5));
  await w.write(data.subarray(5));
  await w.commit();
  const hex = digest.slice(7);
  assert.equal(blobs.path(digest), join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex));
  assert.equal(await blobs.has(digest), true);
  assert.deepEqual(await readAll(blobs.open(digest)), data);
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
});

test('missing returns unique absent digests in input order', async () => {
  const { blobs } = await fresh();
  const a = digestOf('a');
  const b = digestOf('b');
  const c = digestOf('c');
  const w = blobs.begin(b);
  await w.write(Buffer.from('b'));
  await w.commit();
  assert.deepEqual(await blobs.missing([c, a, b, c, a]), [c, a]);
  assert.deepEqual(await blobs.missing([]), []);
});

test('a digest mismatch leaves the store unchanged', async () => {
  const { dir, blobs } = await fresh();
  const digest = digestOf('expected');
  const w = blobs.begin(digest);
  await w.write(Buffer.from('something else'));
  await assert.rejects(w.commit(), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'digest_mismatch');
    assert.match(err.message, new RegExp(`^blob ${digest} did not match its digest`));
    return true;
  });
  assert.deepEqual(await listFiles(join(dir, 'blobs')), []);
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  assert.equal(await blobs.has(digest), false);
});

test('a size mismatch is refused even when the declared size is exceeded mid-stream', async () => {
  const { dir, blobs } = await fresh();
  const data = Buffer.from('0123456789');
  const short = blobs.begin(digestOf(data), 11);
  await short.write(data);
  await assert.rejects(short.commit(), isStoreError('digest_mismatch'));
  const long = blobs.begin(digestOf(data), 4);
  await assert.rejects(long.write(data), isStoreError('digest_mismatch'));
  await assert.rejects(long.commit(), isStoreError('writer_closed'));
  assert.deepEqual(await listFiles(join(dir, 'blobs')), []);
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
});

test('abort leaves nothing behind', async () => {
  const { dir, blobs } = await fresh();
  const data = Buffer.from('partial');
  const w = blobs.begin(digestOf(data));
  await w.write(data.subarray(0, 3));
  assert.equal((await readdir(join(dir, 'tmp'))).length, 1);
  await w.abort();
  await w.abort();
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  assert.deepEqual(await listFiles(join(dir, 'blobs')), []);
  await assert.rejects(w.write(Buffer.from('x')), isStoreError('writer_closed'));
  await assert.rejects(w.commit(), isStoreError('writer_closed'));
});

test('a half-written blob never appears under blobs/', async () => {
  const { dir, blobs } = await fresh();
  const data = Buffer.alloc(1 << 20, 7);
  const digest = digestOf(data);
  const w = blobs.begin(digest);
  await w.write(data.subarray(0, 1000));
  assert.equal(await blobs.has(digest), false);
  assert.deepEqual(await listFiles(join(dir, 'blobs')), []);
  await w.write(data.subarray(1000));
  await w.commit();
  assert.equal(await blobs.has(digest), true);
});

test('concurrent writers of the same digest both succeed with identical content', async () => {
  const { blobs } = await fresh();
  const data = Buffer.from('same bytes twice');
  const digest = digestOf(data);
  const w1 = blobs.begin(digest);
  const w2 = blobs.begin(digest);
  await Promise.all([w1.write(data), w2.write(data)]);
  await Promise.all([w1.commit(), w2.commit()]);
  assert.deepEqual(await readAll(blobs.open(digest)), data);
});

test('open of an absent blob throws blob_missing', async () => {
  const { blobs } = await fresh();
  assert.throws(() => blobs.open(digestOf('nope')), isStoreError('blob_missing'));
});

test('invalid digest strings are refused before touching a path', async () => {
  const { blobs, snapshots } = await fresh();
  const bad = [
    '',
    'sha256:',
    `sha256:${'A'.repeat(64)}`,
    `sha256:${'a'.repeat(63)}`,
    `sha256:${'a'.repeat(65)}`,
    `sha512:${'a'.repeat(64)}`,
    `sha256:../../${'a'.repeat(58)}`,
    `sha256:${'a'.repeat(64)}\n`,
    `sha256:${'a'.repeat(62)}/x`,
    'sha256:../../../etc/passwd',
  ];
  for (const d of bad) {
    assert.throws(() => blobs.path(d), isStoreError('invalid_digest'), d);
    assert.throws(() => blobs.begin(d), isStoreError('invalid_digest'), d);
    assert.throws(() => blobs.open(d), isStoreError('invalid_digest'), d);
    await assert.rejects(blobs.has(d), isStoreError('invalid_digest'), d);
    await assert.rejects(blobs.missing([digestOf('ok'), d]), isStoreError('invalid_digest'), d);
    await assert.rejects(snapshots.get(d), isStoreError('invalid_digest'), d);
    await assert.rejects(snapshots.has(d), isStoreError('invalid_digest'), d);
  }
});

test('createStore cleans stale temp files but keeps a live process in-flight file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'depot-store-'));
  dirs.push(dir);
  const { tmpDir } = await createStore(dir);
  // A pid that cannot be alive (above the kernel maximum), our own pid (reused), junk names, a dir.
  await writeFile(join(tmpDir, '4194305-abcdef.blob.tmp'), 'dead upload');
  await writeFile(join(tmpDir, `${process.pid}-0123.blob.tmp`), 'reused pid');
  await writeFile(join(tmpDir, 'random-leftover'), 'junk');
  await mkdir(join(tmpDir, '99-extract.tmp', 'deep'), { recursive: true });
  await writeFile(join(tmpDir, '99-extract.tmp', 'deep', 'f'), 'junk');
  // The parent of this test process is alive: its file must survive.
  const live = `${process.ppid}-feed.blob.tmp`;
  await writeFile(join(tmpDir, live), 'in flight');
  await createStore(dir);
  assert.deepEqual(await readdir(tmpDir), [live]);
});

test('tempPath names files this process owns inside the tmp dir', async () => {
  const { tmpDir } = await fresh();
  const p = tempPath(tmpDir, 'context');
  assert.ok(p.startsWith(`${tmpDir}/${process.pid}-`));
  assert.ok(p.endsWith('.context.tmp'));
  assert.notEqual(p, tempPath(tmpDir, 'context'));
});

const entries: ContextEntry[] = [
  { path: 'src', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtimeMs: 1, digest: '', link: '' },
  {
    path: 'src/main.ts',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 3,
    mtimeMs: 2,
    digest: digestOf('abc'),
    link: '',
  },
  {
    path: 'Dockerfile',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 1,
    mtimeMs: 3,
    digest: digestOf('x'),
    link: '',
  },
  {
    path: 'latest',
    type: 'symlink',
    mode: 0o777,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeMs: 4,
    digest: '',
    link: 'src',
  },
];

test('snapshots round trip and their id is stable across order and stores', async () => {
  const { dir, snapshots } = await fresh();
  const id = await snapshots.put(entries);
  assert.equal(id, snapshotId(entries));
  assert.equal(await snapshots.put([...entries].reverse()), id);
  assert.equal(await snapshots.has(id), true);
  const back = await snapshots.get(id);
  assert.ok(back);
  assert.equal(snapshotId(back), id);
  assert.deepEqual(
    back.map((e) => e.path),
    ['Dockerfile', 'latest', 'src', 'src/main.ts'],
  );
  assert.deepEqual(
    [...back].sort((a, b) => a.path.localeCompare(b.path)),
    [...entries].sort((a, b) => a.path.localeCompare(b.path)),
  );
  // The root under its id; the directory below it (src) as a shared node.
  assert.deepEqual((await readdir(join(dir, 'snapshots'))).sort(), [id.slice(7), 'nodes']);
  assert.equal((await readdir(join(dir, 'snapshots', 'nodes'))).length, 1);
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);

  const other = await fresh();
  assert.equal(await other.snapshots.put(entries), id);
  assert.equal(await other.snapshots.get(digestOf('unknown')), undefined);
  assert.equal(await other.snapshots.has(digestOf('unknown')), false);
});

test('an empty snapshot round trips', async () => {
  const { snapshots } = await fresh();
  const id = await snapshots.put([]);
  assert.deepEqual(await snapshots.get(id), []);
});

test('a corrupt snapshot file is reported, not trusted', async () => {
  const { dir, snapshots } = await fresh();
  const id = await snapshots.put(entries);
  const p = join(dir, 'snapshots', id.slice(7));
  await rm(p, { force: true });
  await writeFile(p, 'tampered');
  await assert.rejects(snapshots.get(id), isStoreError('snapshot_corrupt'));
});

test('unsafe manifests are refused with ManifestError and nothing is written', async () => {
  const { dir, snapshots } = await fresh();
  const base = entries[2]!;
  const bad: ContextEntry[][] = [
    [{ ...base, path: '../escape' }],
    [{ ...base, path: 'a/../../escape' }],
    [{ ...base, path: '/etc/passwd' }],
    [{ ...base, path: 'nul\0byte' }],
    [base, { ...base }],
    [{ ...base, digest: 'sha256:short' }],
  ];
  for (const m of bad) {
    await assert.rejects(snapshots.put(m), ManifestError, JSON.stringify(m[0]?.path));
  }
  assert.deepEqual(await readdir(join(dir, 'snapshots')), []);
  assert.deepEqual(await readdir(join(dir, 'tmp')), []);
});

test('stored blobs are read-only and staged on the same filesystem', async () => {
  const { dir, blobs, tmpDir } = await fresh();
  const data = Buffer.from('ro');
  const w = blobs.begin(digestOf(data));
  await w.write(data);
  await w.commit();
  const st = await stat(blobs.path(digestOf(data)));
  assert.equal(st.mode & 0o777, 0o444);
  assert.equal((await stat(tmpDir)).dev, (await stat(join(dir, 'blobs'))).dev);
});

test("a project's blob look-up costs the digests asked, not the digests asked × those it holds", async () => {
  const { ownership } = await fresh();
  // A first sync of a large context: every digest is looked up again once it is claimed
  // (putSnapshot). A join driven by the project's rows made that 100 s for 20,000 files.
  const n = 8000;
  const held = Array.from({ length: n }, (_, i) => ({ digest: digestOf(`blob ${i}`), size: 10 }));
  ownership.claimBlobs('p', held, 1);
  const wanted = new Map(held.map((b) => [b.digest, b.size] as [string, number]));
  const started = performance.now();
  assert.deepEqual(ownership.missingBlobs('p', wanted), []);
  const ms = performance.now() - started;
  // Linear: ~50 ms here; the quadratic plan took ~12 s. The bound leaves room for a loaded machine.
  assert.ok(ms < 2000, `looking up ${n} held blobs took ${ms.toFixed(0)} ms`);
});

test('snapshots share unchanged directory nodes; a delta is applied only on a project own base', async () => {
  const { dir, snapshots, ownership, blobs } = await fresh();
  const { createProjectStores } = await import('./index.js');
  const stores = createProjectStores({ blobs, snapshots, ownership });
  const f = (path: string, content: string): ContextEntry => ({
    path,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: content.length,
    mtimeMs: 1,
    digest: digestOf(content),
    link: '',
  });
  const d = (path: string): ContextEntry => ({ ...f(path, ''), type: 'dir', size: 0, digest: '' });
  const tree: ContextEntry[] = [];
  for (const k of ['a', 'b', 'c']) {
    tree.push(d(k));
    for (let i = 0; i < 3; i++) tree.push(f(`${k}/${i}.txt`, `${k}${i}`));
  }
  const web = stores.forProject('web');
  const sizes = new Map(tree.filter((e) => e.type === 'file').map((e) => [e.digest, e.size]));
  for (const e of tree) if (e.type === 'file') await web.put(e.digest, Buffer.from(e.path[0]! + e.path[2]!));
  await web.flushAndClaim([...sizes].map(([digest, size]) => ({ digest, size })));
  const first = await web.putSnapshot(tree);
  const nodesDir = join(dir, 'snapshots', 'nodes');
  assert.equal((await readdir(nodesDir)).length, 3);

  // One file changes: one new node (b/) and a new root; a/ and c/ are shared.
  const changed = { ...tree.find((e) => e.path === 'b/1.txt')!, mtimeMs: 2 };
  const diff = { upserts: [changed], removals: [] };
  const next = await web.applyDelta(first, diff);
  assert.ok(next);
  assert.equal(next.nodes.size, 2);
  assert.equal(next.id, snapshotId(tree.map((e) => (e.path === changed.path ? changed : e))));
  assert.equal(await web.putTree(next, new Map([[changed.digest, changed.size]])), next.id);
  assert.equal((await readdir(nodesDir)).length, 4);
  assert.deepEqual(
    (await stores.forProject('web').snapshot(next.id))?.find((e) => e.path === 'b/1.txt'),
    changed,
  );

  // Another project: the same id (and so its nodes) is unknown to it, for a delta as for a build.
  const other = stores.forProject('other');
  assert.equal(await other.applyDelta(first, diff), undefined);
  assert.equal(await other.snapshot(first), undefined);
  // A tree made on someone else's base cannot be stored with files the project never uploaded.
  await assert.rejects(
    other.putTree(next, new Map([[changed.digest, changed.size]])),
    isStoreError('blob_missing'),
  );

  // Once the first snapshot is gone, sweeping removes only the node nothing reaches any more.
  await snapshots.remove(first);
  assert.deepEqual(await snapshots.sweepNodes(0), { nodes: 0, bytes: 0 }, 'nodes written lately stay');
  const swept = await snapshots.sweepNodes(Date.now() + 1000);
  assert.equal(swept.nodes, 1);
  assert.equal((await readdir(nodesDir)).length, 3);
  assert.equal((await snapshots.get(next.id))?.length, tree.length);
});
