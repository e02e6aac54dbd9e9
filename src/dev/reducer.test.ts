import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type BuildEvent, parseEventLines } from '../progress/index.js';
import { vertex } from './fakes.js';
import { initialDevState, MAX_CONTAINER_LOG_LINES, MAX_HISTORY, reduceDev } from './reducer.js';
import type { DevCommand, DevEvent, DevState } from './types.js';

const start = () => initialDevState('/ctx', 'tcp://b:1', { width: 80, height: 24 });
const run = (s: DevState, ...actions: (DevEvent | DevCommand)[]) => actions.reduce(reduceDev, s);

function vertexEvent(digest: string, name: string, cached: boolean): DevEvent {
  const event: BuildEvent = { type: 'vertex/updated', timeMs: 5, vertex: vertex(digest, name, cached) };
  return { type: 'build/progressed', timeMs: 5, buildId: 'b1', event };
}

test('initial state: connecting, watcher starting, nothing built', () => {
  const s = start();
  assert.deepEqual(s.session, { kind: 'connecting', url: 'tcp://b:1' });
  assert.equal(s.watch.status, 'starting');
  assert.equal(s.current, undefined);
  assert.deepEqual(s.ui, {
    selectedStep: -1,
    showLogs: false,
    showHelp: false,
    showInternal: false,
    showWaterfall: false,
    width: 80,
    height: 24,
  });
});

test('a build: started → progressed → finished → loaded, with summary counts and bytes', () => {
  const s = run(
    start(),
    { type: 'sync/started', timeMs: 1, paths: [], full: true },
    { type: 'sync/acked', timeMs: 2, snapshotId: 's1', entries: 3, bytesSent: 700 },
    { type: 'build/started', timeMs: 3, buildId: 'b1', trigger: { reason: 'change', paths: ['src/a.ts'] } },
    vertexEvent('d1', '[1/3] FROM busybox', true),
    vertexEvent('d2', '[2/3] COPY src/ ./src', false),
    vertexEvent('d3', '[3/3] COPY package.json ./', false),
    { type: 'build/finished', timeMs: 9, buildId: 'b1', ok: true, imageId: 'sha256:i', error: '' },
    { type: 'load/started', timeMs: 10, buildId: 'b1', imageId: 'sha256:i' },
    { type: 'load/finished', timeMs: 11, buildId: 'b1', bytes: 42, imageSize: 99 },
  );
  assert.equal(s.snapshot.id, 's1');
  assert.equal(s.current?.phase, 'done');
  assert.deepEqual(s.current?.rebuiltBecause, { d2: ['src/a.ts'] });
  const r = s.history[0];
  assert.ok(r);
  assert.equal(r.seq, 1);
  assert.equal(r.outcome, 'ok');
  assert.equal(r.stepsTotal, 3);
  assert.equal(r.stepsCached, 1);
  assert.equal(r.bytesSynced, 700);
  assert.equal(r.bytesLoaded, 42);
  assert.equal(r.imageId, 'sha256:i');
  assert.equal(s.current?.record.bytesLoaded, 42);
  assert.equal(s.snapshot.bytesSinceBuild, 0);
});

test('rebuiltBecause drops a step once it turns out cached', () => {
  const s = run(
    start(),
    { type: 'build/started', timeMs: 3, buildId: 'b1', trigger: { reason: 'change', paths: ['src/a.ts'] } },
    vertexEvent('d2', '[2/3] COPY . .', false),
  );
  assert.deepEqual(s.current?.rebuiltBecause, { d2: ['src/a.ts'] });
  const t = reduceDev(s, vertexEvent('d2', '[2/3] COPY . .', true));
  assert.deepEqual(t.current?.rebuiltBecause, {});
});

test('events of another build and late events after the end are ignored', () => {
  const s = run(
    start(),
    { type: 'build/started', timeMs: 3, buildId: 'b1', trigger: { reason: 'manual', paths: [] } },
    { type: 'build/cancelled', timeMs: 4, buildId: 'b1', reason: 'files changed' },
  );
  const t = run(s, vertexEvent('d1', '[1/1] FROM x', false), {
    type: 'build/finished',
    timeMs: 5,
    buildId: 'b1',
    ok: true,
    imageId: 'x',
    error: '',
  });
  assert.equal(t.current?.build.steps.length, 0);
  assert.equal(t.history.length, 1);
  assert.equal(t.history[0]?.outcome, 'cancelled');
  assert.equal(t.history[0]?.error, 'files changed');
});

test('history is bounded and build numbers keep counting', () => {
  let s = start();
  for (let i = 1; i <= MAX_HISTORY + 5; i++) {
    s = run(
      s,
      { type: 'build/started', timeMs: i, buildId: `b${i}`, trigger: { reason: 'change', paths: [] } },
      { type: 'build/finished', timeMs: i, buildId: `b${i}`, ok: false, imageId: '', error: 'x' },
    );
  }
  assert.equal(s.history.length, MAX_HISTORY);
  assert.equal(s.history[s.history.length - 1]?.seq, MAX_HISTORY + 5);
});

test('pending is set by build/pending and cleared when a build starts', () => {
  const trigger = { reason: 'change' as const, paths: ['a'] };
  const s = reduceDev(start(), { type: 'build/pending', timeMs: 1, trigger, waitingFor: 'syncing' });
  assert.deepEqual(s.pending, { trigger, waitingFor: 'syncing' });
  const t = reduceDev(s, { type: 'build/started', timeMs: 2, buildId: 'b1', trigger });
  assert.equal(t.pending, undefined);
});

test('session: connected, latency, reconnecting', () => {
  const s = run(start(), {
    type: 'session/connected',
    timeMs: 7,
    url: 'tcp://b:1',
    builderId: 'b',
    platform: 'linux/amd64',
    latencyMs: 4,
  });
  assert.equal(s.session.kind, 'connected');
  const t = reduceDev(s, { type: 'session/latency', timeMs: 8, latencyMs: 9 });
  assert.equal(t.session.kind === 'connected' && t.session.latencyMs, 9);
  const u = reduceDev(t, {
    type: 'session/reconnecting',
    timeMs: 9,
    attempt: 2,
    retryAtMs: 1009,
    error: 'down',
  });
  assert.deepEqual(u.session, {
    kind: 'reconnecting',
    url: 'tcp://b:1',
    attempt: 2,
    retryAtMs: 1009,
    lastError: 'down',
  });
});

test('watch: changes accumulate until synced; pause and failures', () => {
  const s = run(
    start(),
    { type: 'watch/started', timeMs: 1, polling: false, message: 'ok' },
    { type: 'watch/changed', timeMs: 2, paths: ['a', 'b'], quietUntilMs: 202 },
    { type: 'watch/changed', timeMs: 3, paths: ['b', 'c'], quietUntilMs: 203 },
  );
  assert.deepEqual(s.watch.pendingPaths, ['a', 'b', 'c']);
  assert.equal(s.watch.quietUntilMs, 203);
  const t = reduceDev(s, { type: 'sync/started', timeMs: 4, paths: ['a', 'b'] });
  assert.deepEqual(t.watch.pendingPaths, ['c']);
  assert.equal(t.snapshot.syncing, true);
  assert.equal(reduceDev(t, { type: 'watch/paused', timeMs: 5 }).watch.status, 'paused');
  const f = reduceDev(t, { type: 'watch/failed', timeMs: 5, message: 'inotify limit', polling: true });
  assert.deepEqual([f.watch.status, f.watch.message], ['polling', 'inotify limit']);
});

test('container: started, logs bounded, kept, exited', () => {
  let s = run(start(), { type: 'container/kept', timeMs: 1, reason: 'x' });
  assert.equal(s.container, undefined);
  s = run(
    s,
    { type: 'container/starting', timeMs: 1, imageId: 'i1' },
    { type: 'container/started', timeMs: 2, id: 'c1', name: 'app', imageId: 'i1' },
  );
  assert.equal(s.container?.status, 'running');
  for (let i = 0; i < MAX_CONTAINER_LOG_LINES + 10; i++) {
    s = reduceDev(s, { type: 'container/logged', timeMs: 3, lines: [`line ${i}`] });
  }
  assert.equal(s.container?.logs.length, MAX_CONTAINER_LOG_LINES);
  assert.equal(s.container?.logs[0], 'line 10');
  s = reduceDev(s, { type: 'container/kept', timeMs: 4, reason: 'build 2 failed' });
  assert.deepEqual(
    [s.container?.status, s.container?.message, s.container?.id],
    ['kept', 'build 2 failed', 'c1'],
  );
  s = reduceDev(s, { type: 'container/exited', timeMs: 5, code: 3 });
  assert.deepEqual([s.container?.status, s.container?.message], ['exited', 'exited with code 3']);
});

test('ui commands: steps are clamped, toggles flip, quit sets quitting', () => {
  let s = run(
    start(),
    { type: 'step/moved', delta: 1 },
    { type: 'build/started', timeMs: 3, buildId: 'b1', trigger: { reason: 'manual', paths: [] } },
  );
  assert.equal(s.ui.selectedStep, -1);
  s = run(s, vertexEvent('d1', '[1/2] FROM x', true), vertexEvent('d2', '[2/2] RUN y', false));
  s = reduceDev(s, { type: 'step/moved', delta: 1 });
  assert.equal(s.ui.selectedStep, 0);
  s = reduceDev(s, { type: 'step/moved', delta: 5 });
  assert.equal(s.ui.selectedStep, 1);
  s = reduceDev(s, { type: 'step/moved', delta: -9 });
  assert.equal(s.ui.selectedStep, 0);
  s = run(s, { type: 'logs/toggled' }, { type: 'help/toggled' }, { type: 'quit/requested' });
  assert.deepEqual([s.ui.showLogs, s.ui.showHelp, s.quitting], [true, true, true]);
  s = reduceDev(s, { type: 'ui/resized', timeMs: 9, width: 120, height: 40 });
  assert.deepEqual([s.ui.width, s.ui.height, s.nowMs], [120, 40, 9]);
});

test('the selection moves in the graph’s order: stage by stage, BuildKit’s own steps only when listed', () => {
  const events = parseEventLines(
    readFileSync(new URL('../progress/fixtures/graph-edit.jsonl', import.meta.url), 'utf8'),
  );
  let s = run(start(), {
    type: 'build/started',
    timeMs: 3,
    buildId: 'b1',
    trigger: { reason: 'manual', paths: [] },
  });
  s = run(
    s,
    ...events.map((event): DevEvent => ({ type: 'build/progressed', timeMs: 5, buildId: 'b1', event })),
  );
  const numbers = (state: DevState, moves: number) => {
    const out: number[] = [];
    let x = state;
    for (let i = 0; i < moves; i++) {
      x = reduceDev(x, { type: 'step/moved', delta: 1 });
      out.push(x.current!.build.steps[x.ui.selectedStep]!.number);
    }
    return { out, state: x };
  };
  // Lanes deps, assets, build, stage-3 (the shared FROM #4 once); the folded internals are skipped.
  const folded = numbers(s, 13);
  assert.deepEqual(folded.out, [4, 5, 7, 8, 12, 13, 14, 9, 10, 11, 15, 16, 16]);
  // Listed, BuildKit's own come first (and the export last); folding them again drops such a selection.
  const listed = numbers(reduceDev(s, { type: 'internal/toggled' }), 5);
  assert.deepEqual(listed.out, [1, 2, 3, 6, 4]);
  const first = reduceDev(reduceDev(s, { type: 'internal/toggled' }), { type: 'step/moved', delta: 1 });
  assert.equal(reduceDev(first, { type: 'internal/toggled' }).ui.selectedStep, -1);
  // A selected Dockerfile step stays selected.
  assert.equal(
    reduceDev(folded.state, { type: 'internal/toggled' }).ui.selectedStep,
    folded.state.ui.selectedStep,
  );
});

test('the reducer never mutates its input', () => {
  const s = start();
  const frozen = structuredClone(s);
  run(
    s,
    { type: 'watch/changed', timeMs: 2, paths: ['a'], quietUntilMs: 202 },
    { type: 'build/started', timeMs: 3, buildId: 'b1', trigger: { reason: 'manual', paths: [] } },
  );
  assert.deepEqual(s, frozen);
});

test('container/starting names the new container (no name yet) and the one it replaces', () => {
  const s = run(
    start(),
    { type: 'container/started', timeMs: 1, id: 'c1aaaaaaaaaaaaaa', name: 'old-one', imageId: 'sha256:i1' },
    { type: 'container/starting', timeMs: 2, imageId: 'sha256:i2' },
  );
  assert.equal(s.container?.status, 'starting');
  assert.equal(s.container?.name, '', 'the old name is not the starting container');
  assert.equal(s.container?.id, '');
  assert.equal(s.container?.imageId, 'sha256:i2');
  assert.equal(s.container?.replacing, 'old-one');
  const t = reduceDev(s, {
    type: 'container/started',
    timeMs: 3,
    id: 'c2bbbbbbbbbbbbbb',
    name: 'new-one',
    imageId: 'sha256:i2',
  });
  assert.equal(t.container?.status, 'running');
  assert.equal(t.container?.name, 'new-one');
});

test('ignore/failed and ignore/fixed set and clear the watch state', () => {
  const s = run(start(), {
    type: 'ignore/failed',
    timeMs: 1,
    error: '.dockerignore line 1: bad pattern "["',
  });
  assert.equal(s.watch.ignoreError, '.dockerignore line 1: bad pattern "["');
  assert.equal(reduceDev(s, { type: 'ignore/fixed', timeMs: 2 }).watch.ignoreError, '');
});
