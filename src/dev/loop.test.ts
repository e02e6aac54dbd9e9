import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FakeClock, FakeContainerRunner, FakeDevBuilder, FakeWatcher } from './fakes.js';
import { createDevLoop, type DevLoopDeps, reconnectDelayMs } from './loop.js';
import { initialDevState, reduceDev } from './reducer.js';
import { createStore } from './store.js';
import type { DevState } from './types.js';

// The loop must never leave a rejection unhandled.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
before(() => process.on('unhandledRejection', onUnhandled));
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, []);
});

type Options = Partial<Omit<DevLoopDeps, 'runner'>> & { withRunner?: boolean };

function setup(opts: Options = {}) {
  const clock = new FakeClock();
  const store = createStore(
    reduceDev,
    initialDevState('/ctx', 'tcp://builder:7000', { width: 100, height: 30 }),
  );
  const builder = new FakeDevBuilder({ clock });
  const watcher = new FakeWatcher();
  const runner = new FakeContainerRunner();
  const { withRunner, ...rest } = opts;
  const loop = createDevLoop({
    store,
    builder,
    watcher,
    clock,
    runner: withRunner ? runner : undefined,
    newBuildId: (n) => `b${n}`,
    ...rest,
  });
  const until = (p: (s: DevState) => boolean) => store.waitUntilState(p, 2000);
  /** n builds are over (loaded, container handled). */
  const finished = (n: number) => until((s) => s.history.length >= n && s.current?.phase === 'done');
  return { clock, store, builder, watcher, runner, loop, until, finished };
}

/** A loop whose initial build is done. */
async function started(opts: Options = {}) {
  const t = setup(opts);
  await t.loop.start();
  await t.finished(1);
  return t;
}

test('initial: connect, full sync, build, load, replace the container', async () => {
  const { store, builder, runner, watcher, loop } = setup({ withRunner: true });
  await loop.start();
  const s = await store.waitUntilState((x) => x.container?.status === 'running');
  assert.equal(s.session.kind, 'connected');
  assert.equal(s.watch.status, 'watching');
  assert.ok(watcher.started);
  assert.deepEqual(builder.syncs, ['all']);
  assert.equal(builder.builds.length, 1);
  assert.equal(builder.builds[0]?.snapshotId, 'snap-1');
  assert.deepEqual(builder.loads, ['sha256:image-b1']);
  assert.deepEqual(runner.replaced, ['sha256:image-b1']);
  const r = s.history[0];
  assert.ok(r);
  assert.deepEqual([r.outcome, r.trigger.reason, r.stepsTotal, r.stepsCached], ['ok', 'initial', 4, 2]);
  assert.deepEqual([r.bytesSynced, r.bytesLoaded], [1000, 2048]);
  assert.equal(s.container?.id, 'container-1');
  runner.log(['listening on :8080']);
  assert.deepEqual(store.getState().container?.logs, ['listening on :8080']);
  await loop.stop();
});

test('a burst of 100 changes within 1 s: pre-synced meanwhile, exactly one rebuild, at the quiet end', async () => {
  const { clock, store, builder, watcher, loop, finished } = await started();
  const syncsBefore = builder.syncs.length;
  let lastChange = 0;
  for (let i = 0; i < 100; i++) {
    lastChange = clock.now();
    watcher.emit([`src/file-${i % 7}.ts`]);
    await clock.advance(10);
  }
  assert.equal(builder.builds.length, 1, 'no build during the burst');
  assert.ok(builder.syncs.length - syncsBefore >= 10, 'changes were pre-synced during the burst');
  assert.equal(store.getState().pending?.waitingFor, 'waiting for the quiet period');
  assert.equal(store.getState().watch.quietUntilMs, lastChange + 200);
  await clock.advance(lastChange + 199 - clock.now());
  assert.equal(builder.builds.length, 1, 'not before the quiet period ends');
  const syncsAtQuietEnd = builder.syncs.length;
  assert.deepEqual(store.getState().watch.pendingPaths, [], 'everything is on the builder already');
  await clock.advance(1);
  assert.equal(builder.builds.length, 2);
  assert.equal(builder.syncs.length, syncsAtQuietEnd, 'nothing left to sync when the quiet period ended');
  const s = await finished(2);
  const r = s.history[1];
  assert.ok(r);
  assert.equal(r.startedMs, lastChange + 200, 'the build starts as the quiet period ends');
  assert.deepEqual(
    [...r.trigger.paths].sort(),
    [0, 1, 2, 3, 4, 5, 6].map((i) => `src/file-${i}.ts`),
  );
  assert.equal(r.trigger.reason, 'change');
  assert.equal(builder.lastBuild?.snapshotId, s.snapshot.id, 'built from the latest snapshot');
  await clock.advance(60_000);
  assert.equal(builder.builds.length, 2, 'exactly one rebuild');
  await loop.stop();
});

test('quiet period: one change builds 200 ms later; the cap bounds a stream of changes', async () => {
  const { clock, builder, watcher, loop, finished, store } = await started({ capMs: 1000 });
  const t0 = clock.now();
  watcher.emit(['a.txt']);
  await clock.advance(199);
  assert.equal(builder.builds.length, 1);
  await clock.advance(1);
  assert.equal(builder.builds.length, 2);
  await finished(2);

  // A change every 100 ms for 3 s: builds at the cap (1 s after each batch's first change).
  const t1 = clock.now();
  for (let i = 0; i < 30; i++) {
    watcher.emit([`f${i}.txt`]);
    await clock.advance(100);
  }
  await clock.advance(1000);
  const starts = store
    .getState()
    .history.slice(2)
    .map((r) => r.startedMs - t1);
  assert.deepEqual(starts, [1000, 2000, 3000]);
  assert.equal(t1 - t0, 200);
  assert.equal(builder.builds.length, 5);
  await loop.stop();
});

test('a sync in flight when the quiet period ends is waited for, and so is the pre-sync of later paths', async () => {
  const { clock, builder, watcher, loop, store, until } = await started();
  builder.holdSyncs = true;
  watcher.emit(['a.txt']);
  await clock.advance(25);
  assert.equal(builder.heldSyncCount, 1);
  watcher.emit(['b.txt']);
  await clock.advance(200);
  assert.equal(builder.builds.length, 1);
  assert.equal(store.getState().pending?.waitingFor, 'syncing');
  builder.releaseSync(); // a.txt acked; b.txt goes next at once
  await clock.advance(0);
  assert.deepEqual(builder.syncs.slice(-2), [['a.txt'], ['b.txt']]);
  assert.equal(builder.builds.length, 1);
  builder.holdSyncs = false;
  builder.releaseSync();
  const s = await until((x) => x.current?.record.seq === 2);
  assert.equal(builder.lastBuild?.snapshotId, s.snapshot.id);
  assert.deepEqual(s.current?.record.trigger.paths, ['a.txt', 'b.txt']);
  assert.equal(s.current?.record.bytesSynced, 200);
  await loop.stop();
});

test("onChange 'cancel': a change aborts the running build, one new build after the quiet period", async () => {
  const { clock, builder, watcher, loop, store, until } = await started({ onChange: 'cancel' });
  builder.holdBuilds = true;
  watcher.emit(['src/a.ts']);
  await clock.advance(200);
  assert.equal(builder.builds.length, 2);
  const running = builder.builds[1];
  assert.ok(running);
  watcher.emit(['src/b.ts']);
  await clock.advance(0);
  assert.equal(running.aborted, true, 'the builder saw the abort');
  assert.deepEqual(builder.cancelled, ['b2']);
  const s = store.getState();
  assert.equal(s.history[1]?.outcome, 'cancelled');
  assert.equal(s.pending?.waitingFor, 'waiting for the quiet period');
  for (let i = 0; i < 5; i++) {
    watcher.emit(['src/b.ts']);
    await clock.advance(50);
  }
  await clock.advance(199);
  assert.equal(builder.builds.length, 3, 'exactly one new build');
  assert.deepEqual(builder.lastBuild?.buildId, 'b3');
  builder.lastBuild?.succeed();
  const done = await until((x) => x.history.length === 3 && x.current?.phase === 'done');
  assert.deepEqual(
    done.history[2]?.trigger.paths,
    ['src/a.ts', 'src/b.ts'],
    'the cancelled build’s files carry over',
  );
  await clock.advance(10_000);
  assert.equal(builder.builds.length, 3);
  await loop.stop();
});

test("onChange 'queue': the running build finishes, then exactly one trailing build", async () => {
  const { clock, builder, watcher, loop, store, until } = await started({ onChange: 'queue' });
  builder.holdBuilds = true;
  watcher.emit(['src/a.ts']);
  await clock.advance(200);
  const running = builder.builds[1];
  assert.ok(running);
  for (let i = 0; i < 20; i++) {
    watcher.emit([`src/q${i % 3}.ts`]);
    await clock.advance(30);
  }
  await clock.advance(500);
  assert.equal(running.aborted, false);
  assert.equal(builder.builds.length, 2);
  assert.equal(store.getState().pending?.waitingFor, 'queued behind build 2');
  assert.deepEqual(store.getState().pending?.trigger.paths, ['src/q0.ts', 'src/q1.ts', 'src/q2.ts']);
  builder.holdBuilds = false;
  running.succeed();
  const s = await until((x) => x.history.length === 3 && x.current?.phase === 'done');
  assert.equal(s.history[1]?.outcome, 'ok');
  assert.deepEqual(s.history[2]?.trigger.paths, ['src/q0.ts', 'src/q1.ts', 'src/q2.ts']);
  await clock.advance(10_000);
  assert.equal(builder.builds.length, 3);
  await loop.stop();
});

test('builder down: reconnecting with backoff, then sync and rebuild of the pending changes', async () => {
  const { clock, builder, watcher, loop, store, until } = await started({ pingEveryMs: 5000 });
  builder.down = true;
  await clock.advance(5000); // the ping fails
  let s = store.getState();
  assert.equal(s.session.kind, 'reconnecting');
  assert.equal(s.session.kind === 'reconnecting' && s.session.attempt, 1);
  assert.equal(s.session.kind === 'reconnecting' && s.session.retryAtMs, clock.now() + 500);

  watcher.emit(['src/x.ts']);
  await clock.advance(200);
  assert.equal(store.getState().pending?.waitingFor, 'builder reconnecting (attempt 1)');
  const syncs = builder.syncs.length;

  // Attempts 2… back off 1 s, 2 s, 4 s, 8 s, 10 s, 10 s.
  const delays: number[] = [];
  for (let attempt = 2; attempt <= 7; attempt++) {
    const before = store.getState().session;
    assert.equal(before.kind, 'reconnecting');
    if (before.kind !== 'reconnecting') return;
    await clock.advance(before.retryAtMs - clock.now());
    const after = store.getState().session;
    assert.equal(after.kind === 'reconnecting' && after.attempt, attempt);
    if (after.kind === 'reconnecting') delays.push(after.retryAtMs - clock.now());
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.deepEqual(delays, [2, 3, 4, 5, 6, 7].map(reconnectDelayMs));
  assert.equal(builder.builds.length, 1);
  assert.equal(builder.syncs.length, syncs, 'no sync while down');
  assert.equal(store.getState().pending?.waitingFor, 'builder reconnecting (attempt 7)');

  builder.down = false;
  await clock.advance(10_000);
  s = await until((x) => x.history.length === 2 && x.current?.phase === 'done');
  assert.equal(s.session.kind, 'connected');
  assert.deepEqual(builder.syncs.slice(syncs), [['src/x.ts']]);
  assert.deepEqual(s.history[1]?.trigger.paths, ['src/x.ts']);
  assert.equal(builder.builds.length, 2);
  await loop.stop();
});

test('connection lost mid-build: the build goes back to pending and reruns after reconnecting', async () => {
  const { clock, builder, watcher, loop, store, until } = await started();
  builder.holdBuilds = true;
  watcher.emit(['src/y.ts']);
  await clock.advance(200);
  builder.down = true;
  builder.lastBuild?.disconnect();
  await until((x) => x.session.kind === 'reconnecting');
  const s = store.getState();
  assert.equal(s.history[1]?.outcome, 'cancelled');
  assert.match(s.history[1]?.error ?? '', /connection lost/);
  assert.equal(s.pending?.waitingFor, 'builder reconnecting (attempt 1)');
  builder.down = false;
  builder.holdBuilds = false;
  await clock.advance(500);
  const t = await until((x) => x.history.length === 3 && x.current?.phase === 'done');
  assert.deepEqual([t.history[2]?.outcome, t.history[2]?.trigger.paths], ['ok', ['src/y.ts']]);
  assert.equal(builder.connects, 2);
  await loop.stop();
});

test('a result that says the builder is unreachable is a lost connection, not a failed build', async () => {
  const { clock, builder, watcher, loop, store, until } = await started({ withRunner: true });
  builder.holdBuilds = true;
  watcher.emit(['src/z.ts']);
  await clock.advance(200);
  builder.down = true;
  builder.lastBuild?.fail('cannot reach builder at tcp://builder:7000: ECONNRESET', 'builder_unreachable');
  await until((x) => x.session.kind === 'reconnecting');
  const s = store.getState();
  assert.equal(s.history[1]?.outcome, 'cancelled');
  assert.equal(s.container?.status, 'running', 'not a failed build: the container is not "kept"');
  builder.down = false;
  builder.holdBuilds = false;
  await clock.advance(500);
  const t = await until((x) => x.history.length === 3 && x.current?.phase === 'done');
  assert.deepEqual([t.history[2]?.outcome, t.history[2]?.trigger.paths], ['ok', ['src/z.ts']]);
  await loop.stop();
});

test('a sync hanging when the channel drops is aborted and redone after reconnecting', async () => {
  const { clock, builder, watcher, loop, store, until } = await started({ pingEveryMs: 1000 });
  builder.holdSyncs = true;
  await clock.advance(900);
  watcher.emit(['src/h.ts']);
  await clock.advance(25);
  assert.equal(builder.heldSyncCount, 1);
  builder.down = true;
  await clock.advance(75); // the ping at 1000 ms fails
  assert.equal(store.getState().session.kind, 'reconnecting');
  assert.equal(builder.abortedSyncs, 1);
  assert.equal(store.getState().snapshot.syncing, false);
  assert.equal(store.getState().snapshot.error, 'sync aborted');
  builder.down = false;
  builder.holdSyncs = false;
  await clock.advance(500);
  const s = await until((x) => x.history.length === 2 && x.current?.phase === 'done');
  assert.deepEqual(builder.syncs.slice(-1), [['src/h.ts']]);
  assert.deepEqual(s.history[1]?.trigger.paths, ['src/h.ts']);
  assert.equal(s.pending, undefined);
  await loop.stop();
});

test('first connect fails: retried with backoff, then the initial build runs', async () => {
  const t = setup();
  t.builder.connectFailures = 2;
  await t.loop.start();
  await t.until((s) => s.session.kind === 'reconnecting');
  await t.clock.advance(500);
  await t.clock.advance(1000);
  const s = await t.finished(1);
  assert.equal(t.builder.connects, 3);
  assert.equal(s.history[0]?.trigger.reason, 'initial');
  await t.loop.stop();
});

test('a failed build keeps the container; a good one replaces it', async () => {
  const { clock, builder, watcher, runner, loop, store, until } = await started({ withRunner: true });
  builder.holdBuilds = true;
  watcher.emit(['src/broken.ts']);
  await clock.advance(200);
  builder.lastBuild?.fail('step 3/4 failed: exit code 2');
  let s = await until((x) => x.history.length === 2 && x.container?.status === 'kept');
  assert.equal(s.history[1]?.outcome, 'failed');
  assert.equal(s.history[1]?.error, 'step 3/4 failed: exit code 2');
  assert.equal(s.container?.status, 'kept');
  assert.equal(s.container?.id, 'container-1');
  assert.deepEqual(runner.replaced, ['sha256:image-b1']);
  assert.equal(builder.loads.length, 1, 'a failed build is not loaded');

  watcher.emit(['src/broken.ts']);
  await clock.advance(200);
  builder.lastBuild?.succeed();
  s = await until((x) => x.container?.id === 'container-2');
  assert.equal(s.container?.status, 'running');
  assert.deepEqual(runner.replaced, ['sha256:image-b1', 'sha256:image-b3']);
  assert.ok(runner.followers[0]?.stopped, 'the old container is no longer followed');
  runner.exit(1);
  assert.equal(store.getState().container?.status, 'exited');
  await loop.stop();
});

test('a failed load or replace is state, and the next build goes on', async () => {
  const { clock, builder, watcher, runner, loop, until } = await started({ withRunner: true });
  builder.loadError = 'load: no space left on device';
  watcher.emit(['a']);
  await clock.advance(200);
  let s = await until((x) => x.history.length === 2 && x.current?.phase === 'done');
  assert.equal(s.container?.status, 'kept');
  assert.match(s.container?.message ?? '', /could not be loaded/);
  runner.replaceError = 'port is already allocated';
  watcher.emit(['b']);
  await clock.advance(200);
  s = await until((x) => x.container?.status === 'failed');
  assert.equal(s.container?.message, 'port is already allocated');
  watcher.emit(['c']);
  await clock.advance(200);
  s = await until((x) => x.container?.status === 'running' && x.history.length === 4);
  assert.equal(s.container?.imageId, 'sha256:image-b4');
  await loop.stop();
});

test('pause remembers changes without acting; resume pre-syncs and builds them', async () => {
  const { clock, builder, watcher, loop, store, until } = await started();
  loop.command({ type: 'watch/toggled' });
  assert.equal(store.getState().watch.status, 'paused');
  const syncs = builder.syncs.length;
  watcher.emit(['src/p.ts']);
  await clock.advance(5000);
  assert.equal(builder.builds.length, 1);
  assert.equal(builder.syncs.length, syncs, 'nothing synced while paused');
  assert.deepEqual(store.getState().pending, {
    trigger: { reason: 'change', paths: ['src/p.ts'] },
    waitingFor: 'paused',
  });
  loop.command({ type: 'watch/toggled' });
  assert.equal(store.getState().watch.status, 'watching');
  await clock.advance(25);
  assert.deepEqual(builder.syncs.slice(syncs), [['src/p.ts']]);
  assert.equal(store.getState().pending?.waitingFor, 'waiting for the quiet period');
  await clock.advance(175);
  const s = await until((x) => x.history.length === 2);
  assert.deepEqual(s.history[1]?.trigger, { reason: 'change', paths: ['src/p.ts'] });
  await loop.stop();
});

test('manual rebuild builds the current snapshot at once, even during a quiet period', async () => {
  const { clock, builder, watcher, loop, until } = await started();
  loop.command({ type: 'rebuild/requested' });
  let s = await until((x) => x.history.length === 2);
  assert.equal(s.history[1]?.trigger.reason, 'manual');
  assert.equal(builder.lastBuild?.snapshotId, 'snap-1', 'no new sync without changes');
  watcher.emit(['m.ts']);
  await clock.advance(50);
  loop.command({ type: 'rebuild/requested' });
  s = await until((x) => x.history.length === 3);
  assert.deepEqual(s.history[2]?.trigger, { reason: 'manual', paths: ['m.ts'] });
  await clock.advance(10_000);
  assert.equal(builder.builds.length, 3, 'the quiet period of m.ts does not build again');
  await loop.stop();
});

test('rebuiltBecause marks the COPY steps whose sources hold the changed files', async () => {
  const { clock, builder, watcher, loop, until } = await started();
  builder.holdBuilds = true;
  watcher.emit(['src/app.ts', 'README.md', 'src/lib/x.ts']);
  await clock.advance(200);
  builder.lastBuild?.succeed();
  const s = await until((x) => x.history.length === 2);
  assert.deepEqual(s.current?.rebuiltBecause, { 'sha256:v-src': ['src/app.ts', 'src/lib/x.ts'] });
  await loop.stop();
});

test('a sync that fails (not the connection) is shown, and the next change retries', async () => {
  const { clock, builder, watcher, loop, store, until } = await started();
  builder.syncError = { count: 1, message: 'read src/a.ts: permission denied' };
  watcher.emit(['src/a.ts']);
  await clock.advance(200);
  await clock.advance(1000);
  assert.equal(builder.builds.length, 1);
  assert.equal(store.getState().snapshot.error, 'read src/a.ts: permission denied');
  assert.equal(store.getState().pending?.waitingFor, 'sync failed: read src/a.ts: permission denied');
  watcher.emit(['src/b.ts']);
  await clock.advance(200);
  const s = await until((x) => x.history.length === 2);
  assert.deepEqual(s.history[1]?.trigger.paths, ['src/a.ts', 'src/b.ts']);
  const last = builder.syncs[builder.syncs.length - 1];
  assert.ok(Array.isArray(last));
  assert.deepEqual([...last].sort(), ['src/a.ts', 'src/b.ts']);
  await loop.stop();
});

test('watcher failures are state', async () => {
  const { watcher, loop, store } = await started();
  watcher.fail('inotify watch limit reached; polling', true);
  assert.deepEqual(
    [store.getState().watch.status, store.getState().watch.message],
    ['polling', 'inotify watch limit reached; polling'],
  );
  await loop.stop();
});

test('ping reports latency', async () => {
  const { clock, builder, loop, store } = await started({ pingEveryMs: 1000 });
  builder.latencyMs = 17;
  await clock.advance(1000);
  const s = store.getState().session;
  assert.equal(s.kind === 'connected' && s.latencyMs, 17);
  await clock.advance(3000);
  assert.equal(builder.pings, 4);
  await loop.stop();
});

test('quit aborts the build, closes watcher, runner and builder, and leaves no timers', async () => {
  const { clock, builder, watcher, runner, loop, store } = await started({
    withRunner: true,
    onChange: 'queue',
  });
  builder.holdBuilds = true;
  watcher.emit(['src/a.ts']);
  await clock.advance(200);
  const running = builder.lastBuild;
  watcher.emit(['src/b.ts']); // a quiet period and a pre-sync are now pending
  assert.ok(clock.pending > 0);
  loop.command({ type: 'quit/requested' });
  await loop.stop();
  await clock.advance(0);
  assert.equal(running?.aborted, true);
  assert.equal(builder.closed, true);
  assert.equal(watcher.closed, true);
  assert.equal(runner.closed, true);
  assert.equal(clock.pending, 0, 'no timers left');
  const s = store.getState();
  assert.equal(s.quitting, true);
  assert.equal(s.watch.status, 'closed');
  assert.equal(s.history[1]?.outcome, 'cancelled');
  await clock.advance(60_000);
  assert.equal(builder.builds.length, 2);
  assert.equal(clock.pending, 0);
});

test('stop without start, and twice, is fine', async () => {
  const { loop, builder, clock } = setup();
  await Promise.all([loop.stop(), loop.stop()]);
  await loop.start();
  assert.equal(builder.connects, 0);
  assert.equal(clock.pending, 0);
});

test('a bad ignore file: the error is state, no build until the fix, then one rebuild', async () => {
  const { clock, builder, watcher, loop, store, until } = await started();
  const bad = '.dockerignore line 1: bad pattern "[": unterminated character class (fix or remove the line)';
  builder.syncError = { count: 1, message: bad };
  watcher.ignoreRules(bad);
  watcher.emit(['.dockerignore']);
  await clock.advance(200);
  await clock.advance(1000);
  assert.equal(store.getState().watch.ignoreError, bad);
  assert.equal(store.getState().watch.status, 'watching', 'the watcher goes on');
  assert.equal(builder.builds.length, 1, 'no build with a bad ignore file');
  watcher.ignoreRules('');
  watcher.emit(['.dockerignore', '.']);
  await clock.advance(200);
  const s = await until((x) => x.history.length === 2);
  assert.equal(s.watch.ignoreError, '');
  assert.equal(builder.builds.length, 2);
  await loop.stop();
});
