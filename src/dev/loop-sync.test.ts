/** The dev loop with `--sync`: live updates of the running container, and when it is replaced instead. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock, FakeContainerRunner, FakeContainerSyncer, FakeDevBuilder, FakeWatcher } from './fakes.js';
import { createDevLoop } from './loop.js';
import { initialDevState, reduceDev } from './reducer.js';
import { createStore } from './store.js';
import type { SyncChange, SyncPlan } from './sync-types.js';
import type { DevState } from './types.js';

/** `src/` → `/app/src`; package-lock.json always rebuilds; anything else is not covered. */
function setup(settings: { exec?: string; restart?: boolean } = {}) {
  const clock = new FakeClock();
  const store = createStore(
    reduceDev,
    initialDevState('/ctx', 'tcp://builder:7000', { width: 100, height: 30 }),
  );
  const builder = new FakeDevBuilder({ clock });
  const watcher = new FakeWatcher();
  const runner = new FakeContainerRunner();
  /** Local files: source path → content hash; absent = deleted. */
  const local = new Map<string, string>();
  const syncer = new FakeContainerSyncer(local);
  const plan = async (paths: string[]): Promise<SyncPlan> => {
    const changes: SyncChange[] = [];
    for (const p of paths) {
      if (p === 'package-lock.json')
        return { kind: 'rebuild', reason: 'package-lock.json matches --rebuild-on' };
      if (!p.startsWith('src/')) return { kind: 'rebuild', reason: `${p} is under no --sync rule` };
      const dest = `/app/${p}`;
      changes.push(
        local.has(`/ctx/${p}`)
          ? { kind: 'file', dest, source: `/ctx/${p}`, mode: 0o644, uid: 0, gid: 0 }
          : { kind: 'delete', dest },
      );
    }
    return { kind: 'sync', changes };
  };
  const loop = createDevLoop({
    store,
    builder,
    watcher,
    clock,
    runner,
    newBuildId: (n) => `b${n}`,
    liveSync: {
      plan,
      syncer,
      settings: { exec: settings.exec, restart: settings.restart ?? false },
      hashFile: async (source) => local.get(source),
    },
  });
  const until = (p: (s: DevState) => boolean) => store.waitUntilState(p, 2000);
  const finished = (n: number) => until((s) => s.history.length >= n && s.current?.phase === 'done');
  const edit = (path: string, content: string) => local.set(`/ctx/${path}`, content);
  return { clock, store, builder, watcher, runner, syncer, loop, until, finished, edit, local };
}

test('a change under a rule goes into the running container at once; the build after it keeps the container', async () => {
  const t = setup({ exec: 'kill -HUP 1' });
  await t.loop.start();
  await t.finished(1);
  assert.deepEqual(t.runner.replaced, ['sha256:image-b1']);
  const t0 = t.clock.now();
  t.edit('src/app.js', 'v2');
  t.watcher.emit(['src/app.js']);
  await t.clock.advance(15);
  assert.equal(t.syncer.applied.length, 1, 'synced 15 ms after the change, before the 200 ms quiet period');
  assert.deepEqual(t.syncer.applied[0]?.changes, [
    { kind: 'file', dest: '/app/src/app.js', source: '/ctx/src/app.js', mode: 0o644, uid: 0, gid: 0 },
  ]);
  assert.deepEqual(t.syncer.execs, ['kill -HUP 1']);
  const s = await t.until((x) => x.container?.sync?.startsWith('synced') === true);
  assert.equal(s.container?.sync, 'synced 1 file in 15 ms · ran kill -HUP 1');
  // The image is still rebuilt and loaded, once the saves pause (the container already has them).
  await t.clock.advance(t0 + 200 - t.clock.now());
  assert.equal(t.builder.builds.length, 1, 'the rebuild is held while the container has every change');
  await t.clock.advance(t0 + 2000 - t.clock.now());
  const after = await t.finished(2);
  assert.deepEqual(t.builder.loads, ['sha256:image-b1', 'sha256:image-b2']);
  assert.deepEqual(t.runner.replaced, ['sha256:image-b1'], 'not replaced');
  assert.equal(after.container?.imageId, 'sha256:image-b2');
  assert.match(after.container?.sync ?? '', /already has its 1 synced path/);
  await t.loop.stop();
});

test('a change no rule covers, or a --rebuild-on match, rebuilds and replaces', async () => {
  const t = setup();
  await t.loop.start();
  await t.finished(1);
  t.edit('src/app.js', 'v2');
  t.edit('package-lock.json', 'lock2');
  t.watcher.emit(['src/app.js', 'package-lock.json']);
  await t.clock.advance(15);
  assert.equal(t.syncer.applied.length, 0);
  assert.match(
    t.store.getState().container?.sync ?? '',
    /rebuilding: package-lock\.json matches --rebuild-on/,
  );
  await t.clock.advance(200);
  await t.finished(2);
  assert.deepEqual(t.runner.replaced, ['sha256:image-b1', 'sha256:image-b2']);
  await t.loop.stop();
});

test('drift: the container differs from the new image at a synced path: replaced', async () => {
  const t = setup();
  await t.loop.start();
  await t.finished(1);
  t.edit('src/app.js', 'v2');
  t.watcher.emit(['src/app.js']);
  await t.clock.advance(15);
  // Something in the container changed the file after the sync (a process wrote it).
  t.syncer.fs('container-1').set('/app/src/app.js', 'written-in-container');
  await t.clock.advance(2000);
  const s = await t.finished(2);
  assert.deepEqual(t.runner.replaced, ['sha256:image-b1', 'sha256:image-b2']);
  assert.equal(s.container?.id, 'container-2');
  // Why it was replaced stays on the new container's line.
  const after = await t.until((x) => x.container?.status === 'running' && x.container.id === 'container-2');
  assert.equal(after.container?.sync, 'drift at 1 path (/app/src/app.js…): replaced by the new image');
  await t.loop.stop();
});

test('a deletion syncs as a delete; a failed live update falls back to replacing', async () => {
  const t = setup();
  await t.loop.start();
  await t.finished(1);
  t.watcher.emit(['src/gone.js']);
  await t.clock.advance(15);
  assert.deepEqual(t.syncer.applied[0]?.changes, [{ kind: 'delete', dest: '/app/src/gone.js' }]);
  await t.clock.advance(2000);
  await t.finished(2);
  assert.deepEqual(t.runner.replaced, ['sha256:image-b1'], 'a delete the image agrees with: kept');

  t.syncer.applyError = 'deleting needs rm in the image';
  t.edit('src/app.js', 'v3');
  t.watcher.emit(['src/app.js']);
  await t.clock.advance(15);
  assert.match(t.store.getState().container?.sync ?? '', /sync failed, rebuilding: deleting needs rm/);
  await t.clock.advance(200);
  await t.finished(3);
  assert.deepEqual(t.runner.replaced, ['sha256:image-b1', 'sha256:image-b3']);
  await t.loop.stop();
});

test('a stopped container: changes wait and go in once it runs again; a restart behind the back re-syncs', async () => {
  const t = setup();
  await t.loop.start();
  await t.finished(1);
  t.edit('src/a.js', 'a2');
  t.watcher.emit(['src/a.js']);
  await t.clock.advance(15);
  assert.equal(t.syncer.applied.length, 1);
  await t.clock.advance(2000);
  await t.finished(2);

  t.syncer.stopped.add('container-1');
  t.edit('src/b.js', 'b2');
  t.watcher.emit(['src/b.js']);
  await t.clock.advance(15);
  assert.equal(t.syncer.applied.length, 1, 'nothing applied to a stopped container');
  assert.match(t.store.getState().container?.sync ?? '', /not running: 1 change wait/);
  // Started again by hand (a restart the session did not do): b.js goes in with a.js again.
  t.syncer.stopped.delete('container-1');
  t.syncer.restartBehind('container-1');
  await t.clock.advance(1000);
  assert.equal(t.syncer.applied.length, 2);
  assert.deepEqual(
    t.syncer.applied[1]?.changes.map((c) => c.dest),
    ['/app/src/b.js'],
    'a.js was checked into the image by build 2; only what is newer goes in',
  );
  await t.loop.stop();
});

test('saves in a row that all go live hold the rebuild until they pause; one that does not, ends the hold', async () => {
  const t = setup();
  await t.loop.start();
  await t.finished(1);
  for (let i = 0; i < 4; i++) {
    t.edit('src/app.js', `v${i}`);
    t.watcher.emit(['src/app.js']);
    await t.clock.advance(1000);
  }
  assert.equal(t.syncer.applied.length, 4, 'every save went live');
  assert.equal(t.builder.builds.length, 1, 'no rebuild while the saves come 1 s apart');
  await t.clock.advance(1000);
  await t.finished(2);
  assert.equal(t.builder.builds.length, 2, 'one rebuild, 2 s after the last save');
  assert.deepEqual(t.runner.replaced, ['sha256:image-b1'], 'the container had it all: kept');

  // A live save, then one that needs a rebuild: the usual quiet period, and the container is replaced.
  t.edit('src/app.js', 'w1');
  t.watcher.emit(['src/app.js']);
  await t.clock.advance(100);
  t.edit('package-lock.json', 'lock2');
  t.watcher.emit(['package-lock.json']);
  await t.clock.advance(15);
  assert.equal(t.builder.builds.length, 2);
  await t.clock.advance(200);
  await t.finished(3);
  assert.deepEqual(t.runner.replaced, ['sha256:image-b1', 'sha256:image-b3']);
  await t.loop.stop();
});

test('live updates wait for the check of the rules against a new container', async () => {
  const t = setup();
  let release = () => {};
  const checks: string[] = [];
  const loop = createDevLoop({
    store: t.store,
    builder: t.builder,
    watcher: t.watcher,
    clock: t.clock,
    runner: t.runner,
    newBuildId: (n) => `b${n}`,
    liveSync: {
      plan: async () => ({ kind: 'rebuild', reason: 'the rule was set aside' }),
      syncer: t.syncer,
      settings: { restart: false },
      hashFile: async () => undefined,
      checkContainer: (id) => {
        checks.push(id);
        return new Promise<void>((r) => {
          release = r;
        });
      },
    },
  });
  await loop.start();
  await t.until((s) => s.container?.id === 'container-1');
  assert.deepEqual(checks, ['container-1']);
  t.watcher.emit(['src/app.js']);
  await t.clock.advance(15);
  assert.doesNotMatch(t.store.getState().container?.sync ?? '', /rebuilding/, 'not planned before the check');
  release();
  await t.until((s) => /rebuilding: the rule was set aside/.test(s.container?.sync ?? ''));
  await loop.stop();
});

test("a live update goes before the builder's pre-sync of the same change", async () => {
  const t = setup();
  await t.loop.start();
  await t.finished(1);
  const before = t.builder.syncs.length;
  let release = () => {};
  const apply = t.syncer.apply.bind(t.syncer);
  t.syncer.apply = async (id, changes) => {
    await new Promise<void>((r) => {
      release = r;
    });
    return apply(id, changes);
  };
  t.edit('src/app.js', 'v2');
  t.watcher.emit(['src/app.js']);
  // The container update takes a while (here: until released); the pre-sync would be due at 25 ms.
  await t.clock.advance(100);
  assert.equal(t.builder.syncs.length, before, 'nothing goes to the builder while the container is updated');
  release();
  await t.until((s) => s.container?.sync?.startsWith('synced') === true);
  await t.clock.advance(25);
  await t.until(() => t.builder.syncs.length > before);
  assert.deepEqual(t.builder.syncs.at(-1), ['src/app.js'], 'the pre-sync follows');
  await t.loop.stop();
});
