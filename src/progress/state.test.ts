import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildEvent, VertexInfo } from './events.js';
import { loadFixtures } from './fixtures.js';
import {
  type BuildState,
  findStep,
  initialBuildState,
  MAX_LOG_LINES,
  numberSteps,
  parseVertexName,
  reduceBuild,
  stepPhase,
  summarize,
} from './state.js';

const T = 1_750_000_000_000;

function vertex(over: Partial<VertexInfo>): VertexInfo {
  return {
    digest: 'sha256:a',
    name: '[build 2/3] RUN make',
    inputs: [],
    cached: false,
    startedMs: 0,
    completedMs: 0,
    error: '',
    ...over,
  };
}

const reduceAll = (events: BuildEvent[], from: BuildState = initialBuildState()) =>
  events.reduce(reduceBuild, from);

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

test('parseVertexName splits stage, step ref, tag and instruction', () => {
  assert.deepEqual(parseVertexName('[build 2/3] RUN make'), {
    stage: 'build',
    platform: '',
    stepIndex: 2,
    stepTotal: 3,
    tag: '',
    instruction: 'RUN make',
  });
  assert.deepEqual(parseVertexName('[1/4] FROM docker.io/library/busybox'), {
    stage: '',
    platform: '',
    stepIndex: 1,
    stepTotal: 4,
    tag: '',
    instruction: 'FROM docker.io/library/busybox',
  });
  const internal = parseVertexName('[internal] load metadata for docker.io/library/busybox:latest');
  assert.equal(internal.tag, 'internal');
  assert.equal(internal.stage, '');
  assert.equal(internal.instruction, 'load metadata for docker.io/library/busybox:latest');
  assert.equal(parseVertexName('[stage-1 3/3] COPY --from=build /out /app').stage, 'stage-1');
  const multi = parseVertexName('[linux/arm64 build 2/3] RUN make');
  assert.equal(multi.platform, 'linux/arm64');
  assert.equal(multi.stage, 'build');
  assert.deepEqual(parseVertexName('exporting to image'), {
    stage: '',
    platform: '',
    stepIndex: 0,
    stepTotal: 0,
    tag: '',
    instruction: 'exporting to image',
  });
});

test('steps keep the order and number of first appearance; re-sent vertices merge, later fields win', () => {
  const s = reduceAll([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ digest: 'sha256:a', startedMs: T }) },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'sha256:b', name: '[internal] load .dockerignore' }),
    },
    {
      type: 'vertex/updated',
      timeMs: T + 5,
      vertex: vertex({ digest: 'sha256:a', startedMs: 0, completedMs: T + 5 }),
    },
  ]);
  assert.deepEqual(
    s.steps.map((x) => [x.digest, x.number]),
    [
      ['sha256:a', 1],
      ['sha256:b', 2],
    ],
  );
  const a = findStep(s, 'sha256:a')!;
  assert.equal(a.startedMs, T, 'a zero start does not erase the known one');
  assert.equal(a.completedMs, T + 5);
  assert.equal(a.stage, 'build');
  assert.equal(stepPhase(a), 'done');
  assert.deepEqual(
    [...numberSteps(s)],
    [
      ['sha256:a', 1],
      ['sha256:b', 2],
    ],
  );
});

test('reduceBuild never mutates its input', () => {
  const events = loadFixtures().flatMap((f) => f.events);
  let s = deepFreeze(initialBuildState());
  for (const e of events) s = deepFreeze(reduceBuild(s, e));
  assert.ok(s.steps.length > 0);
});

test('statuses are kept by id and their bytes summed', () => {
  const s = reduceAll([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ startedMs: T }) },
    ...(['l1', 'l2', 'l1'] as const).map(
      (id, i): BuildEvent => ({
        type: 'status/updated',
        timeMs: T + i,
        status: {
          id,
          vertex: 'sha256:a',
          name: '',
          current: id === 'l1' ? (i + 1) * 100 : 50,
          total: id === 'l1' ? 1000 : 500,
          startedMs: T,
          completedMs: 0,
        },
      }),
    ),
    {
      type: 'status/updated',
      timeMs: T,
      status: {
        id: 'x',
        vertex: 'sha256:unknown',
        name: '',
        current: 1,
        total: 1,
        startedMs: 0,
        completedMs: 0,
      },
    },
  ]);
  const a = s.steps[0]!;
  assert.deepEqual(
    a.statuses.map((x) => [x.id, x.current]),
    [
      ['l1', 300],
      ['l2', 50],
    ],
  );
  assert.equal(a.bytesCurrent, 350);
  assert.equal(a.bytesTotal, 1500);
  assert.equal(s.steps.length, 1, 'statuses of unknown vertices are dropped');
});

test('logs split into lines, join partial chunks and keep the last MAX_LOG_LINES', () => {
  let s = reduceAll([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ startedMs: T }) },
    { type: 'log/appended', timeMs: T + 1, vertex: 'sha256:a', stream: 1, data: 'one\ntw' },
    { type: 'log/appended', timeMs: T + 2, vertex: 'sha256:a', stream: 1, data: 'o\r\nthree' },
  ]);
  assert.deepEqual(
    s.steps[0]!.logs.map((l) => [l.text, l.timeMs]),
    [
      ['one', T + 1],
      ['two', T + 1],
      ['three', T + 2],
    ],
  );
  assert.equal(s.steps[0]!.logPartial, true);
  const many = Array.from({ length: MAX_LOG_LINES + 5 }, (_, i) => `line ${i}`).join('\n');
  s = reduceBuild(s, {
    type: 'log/appended',
    timeMs: T + 3,
    vertex: 'sha256:a',
    stream: 2,
    data: `\n${many}\n`,
  });
  const logs = s.steps[0]!.logs;
  assert.equal(logs.length, MAX_LOG_LINES);
  assert.equal(logs[logs.length - 1]!.text, `line ${MAX_LOG_LINES + 4}`);
  assert.equal(s.steps[0]!.logsDropped, 8);
  assert.equal(s.steps[0]!.logPartial, false);
});

test('phases: waiting, running, cached, failed, canceled', () => {
  const s = reduceAll([
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ digest: 'w' }) },
    { type: 'vertex/updated', timeMs: T, vertex: vertex({ digest: 'r', startedMs: T }) },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'c', cached: true, startedMs: T, completedMs: T }),
    },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'f', startedMs: T, completedMs: T, error: 'exit 1' }),
    },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'x', startedMs: T, completedMs: T, error: 'context canceled' }),
    },
  ]);
  assert.deepEqual(s.steps.map(stepPhase), ['waiting', 'running', 'cached', 'failed', 'canceled']);
});

test('summarize counts finished Dockerfile steps only, whatever BuildKit runs around them', () => {
  const s = reduceAll([
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'd', name: '[internal] load build definition from Dockerfile', cached: true }),
    },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({
        digest: 'm',
        name: '[internal] load metadata for docker.io/library/busybox:latest',
        startedMs: T,
        completedMs: T,
      }),
    },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'f', name: '[1/3] FROM docker.io/library/busybox:latest', cached: true }),
    },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'c', name: '[build 2/3] COPY . .', startedMs: T, completedMs: T + 1 }),
    },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'r', name: '[linux/arm64 build 3/3] RUN make', startedMs: T }),
    },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: vertex({ digest: 'e', name: 'exporting to image', startedMs: T, completedMs: T }),
    },
  ]);
  const sum = summarize(s);
  assert.deepEqual([sum.steps, sum.cached, sum.seen], [2, 1, 3]);
});

test('summarize the recorded successful build', () => {
  const sample = loadFixtures().find((f) => f.name === 'sample-build')!;
  const s = reduceAll(sample.events);
  // 11 vertices, of which 6 are Dockerfile steps (`[stage n/m] …`): BuildKit's own do not count.
  assert.equal(s.steps.length, 11);
  assert.deepEqual(summarize(s), {
    steps: 6,
    cached: 4,
    reused: 0,
    seen: 6,
    durationMs: 1720,
    bytesSynced: 1234,
    bytesLoaded: 12800,
    imageSize: 5398016,
    ok: true,
  });
  assert.equal(s.sync?.blobsSent, 3);
  assert.equal(s.builderId, 'builder-amd64-1');
  assert.equal(s.platform, 'linux/amd64');
  assert.deepEqual(s.load?.tags, ['app:dev']);
  assert.equal(s.load?.layersSent, 1);
  assert.match(s.result?.imageId ?? '', /^sha256:/);
  assert.ok(s.steps.every((x) => stepPhase(x) === 'done' || stepPhase(x) === 'cached'));
  const run = s.steps.find((x) => x.instruction === 'RUN ./build.sh')!;
  assert.equal(run.logs.length, 5);
  assert.equal(run.logs[1]!.text, 'compiling hello.c ... ok');
});

test('the recorded failed build keeps the error, code and the failed step logs', () => {
  const failed = loadFixtures().find((f) => f.name === 'failed-build')!;
  const s = reduceAll(failed.events);
  assert.equal(s.result?.ok, false);
  assert.equal(s.result?.errorCode, 'step_failed');
  const bad = s.steps.filter((x) => stepPhase(x) === 'failed');
  assert.equal(bad.length, 1);
  assert.equal(bad[0]!.instruction, 'RUN ./test.sh');
  assert.ok(bad[0]!.logs.length > 10);
  assert.equal(s.steps.filter((x) => stepPhase(x) === 'canceled').length, 1);
  assert.equal(summarize(s).ok, false);
  assert.equal(s.messages.length, 1);
});

test('daemon messages that repeat the trace are not kept; warnings are', () => {
  const state = [
    { type: 'message/logged', timeMs: T, text: 'Successfully tagged app:dev' },
    { type: 'message/logged', timeMs: T + 1, text: 'Successfully built 0123abcd\n[Warning] low disk' },
  ].reduce((s, e) => reduceBuild(s, e as BuildEvent), initialBuildState());
  assert.deepEqual(state.messages, [{ timeMs: T + 1, text: '[Warning] low disk' }]);
  assert.equal(state.nowMs, T + 1);
});

test('step/explained stores the cause on its step, also when it comes before the vertex', () => {
  const T0 = 1_750_000_000_000;
  const c = {
    kind: 'dockerfile_changed',
    text: 'Dockerfile line 7 changed',
    paths: [],
    morePaths: 0,
    name: '',
    line: 7,
    digest: '',
  };
  const vx = (digest: string) => ({
    type: 'vertex/updated' as const,
    timeMs: T0,
    vertex: {
      digest,
      name: '[1/1] RUN x',
      inputs: [],
      cached: false,
      startedMs: T0,
      completedMs: 0,
      error: '',
    },
  });
  let s = initialBuildState();
  s = reduceBuild(s, vx('a'));
  s = reduceBuild(s, { type: 'step/explained', timeMs: T0, vertex: 'a', cause: c });
  assert.deepEqual(findStep(s, 'a')?.cause, c);
  s = reduceBuild(s, { type: 'step/explained', timeMs: T0, vertex: 'b', cause: { ...c, line: 9 } });
  assert.equal(s.pendingCauses.b?.line, 9);
  s = reduceBuild(s, vx('b'));
  assert.equal(findStep(s, 'b')?.cause?.line, 9);
  assert.deepEqual(s.pendingCauses, {});
  // A re-sent vertex keeps its cause.
  s = reduceBuild(s, vx('a'));
  assert.equal(findStep(s, 'a')?.cause?.text, 'Dockerfile line 7 changed');
});

const reading = (files: number, bytes: number) => ({
  files,
  filesTotal: 10,
  bytes,
  bytesTotal: 1000,
  bytesPerSecond: 100,
  etaMs: 1000,
});

test('sync/progress: hashing opens the sync before sync/started; uploading follows; the ack clears it', () => {
  let s = initialBuildState();
  s = reduceBuild(s, { type: 'sync/progress', timeMs: T, phase: 'hashing', ...reading(3, 300) });
  assert.equal(s.sync?.progress?.phase, 'hashing');
  assert.equal(s.sync?.progress?.bytes, 300);
  assert.equal(s.sync?.ackedMs, 0);
  assert.equal(s.startedMs, T);
  s = reduceBuild(s, { type: 'sync/started', timeMs: T + 10, entries: 12 });
  assert.equal(s.sync?.progress, null);
  s = reduceBuild(s, { type: 'sync/progress', timeMs: T + 20, phase: 'uploading', ...reading(5, 500) });
  assert.deepEqual([s.sync?.progress?.phase, s.sync?.progress?.files, s.sync?.entries], ['uploading', 5, 12]);
  s = reduceBuild(s, {
    type: 'sync/acked',
    timeMs: T + 30,
    snapshotId: 'sha256:s',
    bytesSent: 1000,
    blobsSent: 9,
    filesChanged: 10,
    entries: 12,
    totalBytes: 1000,
  });
  assert.equal(s.sync?.progress, null);
  assert.deepEqual([s.sync?.filesChanged, s.sync?.blobsSent], [10, 9]);
  // A late progress event of an acked sync changes nothing.
  const late = reduceBuild(s, {
    type: 'sync/progress',
    timeMs: T + 40,
    phase: 'uploading',
    ...reading(1, 1),
  });
  assert.equal(late.sync?.progress, null);
});

test('load/progress is kept while loading and dropped when the load finishes', () => {
  let s = reduceBuild(initialBuildState(), {
    type: 'load/progress',
    timeMs: T,
    bytes: 1,
    bytesTotal: 0,
    bytesPerSecond: 0,
    etaMs: -1,
  });
  assert.equal(s.load, null, 'progress without a load is ignored');
  s = reduceBuild(s, { type: 'load/started', timeMs: T });
  s = reduceBuild(s, {
    type: 'load/progress',
    timeMs: T + 5,
    bytes: 400,
    bytesTotal: 1000,
    bytesPerSecond: 80,
    etaMs: 7500,
  });
  assert.deepEqual(s.load?.progress, {
    bytes: 400,
    bytesTotal: 1000,
    bytesPerSecond: 80,
    etaMs: 7500,
    timeMs: T + 5,
  });
  s = reduceBuild(s, {
    type: 'load/finished',
    timeMs: T + 9,
    bytes: 1000,
    imageSize: 1000,
    layersSent: 1,
    layersTotal: 1,
    note: '',
    tags: [],
  });
  assert.equal(s.load?.progress, null);
});

test('info messages are notes, not warnings', () => {
  let s = reduceBuild(initialBuildState(), {
    type: 'message/logged',
    timeMs: T,
    text: 'context: 5B in 1 file sent to the engine',
    info: true,
  });
  s = reduceBuild(s, { type: 'message/logged', timeMs: T, text: 'warning: something' });
  assert.deepEqual(
    s.notes.map((n) => n.text),
    ['context: 5B in 1 file sent to the engine'],
  );
  assert.deepEqual(
    s.messages.map((n) => n.text),
    ['warning: something'],
  );
});
