import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildEvent } from '../progress/index.js';
import type { BuildTraceChunkWire } from './client.js';
import { openReplay } from './replay.js';

const summary = (over: Record<string, unknown> = {}) => ({
  buildId: 'b-1',
  project: 'web',
  user: 'ann',
  platform: 'linux/amd64',
  startedMs: 1000,
  finishedMs: 5000,
  result: 'failed',
  steps: 1,
  cachedSteps: 0,
  savedMs: 0,
  builder: 'bld-1',
  ...over,
});

const header = (over: Record<string, unknown> = {}, record: Record<string, unknown> = {}) =>
  ({
    header: {
      record: {
        summary: summary(over),
        dockerfilePath: 'Dockerfile',
        target: 'app',
        error: 'exit code: 3',
        hasTrace: true,
        traceBytes: 100,
        traceCut: false,
        ...record,
      },
      dockerfile: 'FROM busybox\nRUN false\n',
      events: 2,
      cut: null,
    },
    events: [],
  }) as unknown as BuildTraceChunkWire;

const vertexEvent = {
  event: 'vertex',
  vertex: {
    digest: 'sha256:v',
    inputs: [],
    name: '[1/1] RUN false',
    cached: false,
    startedMs: 1100,
    completedMs: 1200,
    error: 'exit 3',
  },
};

async function* stream(...chunks: BuildTraceChunkWire[]) {
  yield* chunks;
}

async function all(events: AsyncIterable<BuildEvent>): Promise<BuildEvent[]> {
  const out: BuildEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

test('a replay starts and defines the build from its record, then its events at the times they were sent', async () => {
  const events = [
    { timeMs: 1150, event: vertexEvent },
    {
      timeMs: 1300,
      event: {
        event: 'result',
        result: {
          ok: false,
          imageId: '',
          error: 'exit code: 3',
          errorCode: 'step_failed',
          imageSize: 0,
          diffIds: [],
        },
      },
    },
  ];
  const r = await openReplay(stream(header(), { events } as unknown as BuildTraceChunkWire));
  assert.deepEqual(r.notes, []);
  const got = await all(r.events);
  assert.deepEqual(
    got.map((e) => [e.type, e.timeMs]),
    [
      ['build/started', 1000],
      ['build/defined', 1000],
      ['vertex/updated', 1150],
      ['build/finished', 1300],
    ],
  );
  assert.deepEqual(got[0], {
    type: 'build/started',
    timeMs: 1000,
    builderId: 'bld-1',
    platform: 'linux/amd64',
    buildId: 'b-1',
  });
  assert.deepEqual(got[1], {
    type: 'build/defined',
    timeMs: 1000,
    dockerfile: 'FROM busybox\nRUN false\n',
    target: 'app',
  });
  const finished = got[3];
  assert.equal(finished?.type === 'build/finished' && finished.errorCode, 'step_failed');
});

test('without a result in the trace the record ends the build; a cut or missing trace is a note', async () => {
  const cut = header({}, {});
  (cut.header as unknown as { cut: unknown }).cut = {
    logBytes: 2_000_000,
    statuses: 3,
    events: 0,
    maxBytes: 4 * 1024 * 1024,
  };
  const r = await openReplay(
    stream(cut, { events: [{ timeMs: 1150, event: vertexEvent }] } as unknown as BuildTraceChunkWire),
  );
  assert.deepEqual(r.notes, [
    'the stored trace of this build was cut to 4.194MB: 2MB of step logs, 3 progress updates left out',
  ]);
  const got = await all(r.events);
  assert.deepEqual(got.at(-1), {
    type: 'build/finished',
    timeMs: 5000,
    ok: false,
    imageId: '',
    error: 'exit code: 3',
    errorCode: '',
  });

  const none = await openReplay(stream(header({ result: 'cancelled' }, { hasTrace: false, error: '' })));
  assert.match(none.notes[0]!, /^this build's events were not kept/);
  const ended = (await all(none.events)).at(-1);
  assert.deepEqual(ended?.type === 'build/finished' && [ended.ok, ended.error, ended.errorCode], [
    false,
    'cancelled',
    'cancelled',
  ]);

  const running = await openReplay(stream(header({ result: 'running', finishedMs: 0 }, { hasTrace: false })));
  assert.deepEqual(running.notes, ['the build is still running: its events are kept once it ends']);
  assert.ok(
    !(await all(running.events)).some((e) => e.type === 'build/finished'),
    'a running build has not ended',
  );
  await assert.rejects(openReplay(stream()), /without its header/);
});
