import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createBlobStore } from './index.js';

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
