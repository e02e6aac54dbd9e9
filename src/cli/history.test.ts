import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildRecordWire } from '../session/index.js';
import { mergeBuildLists } from './fleet-history.js';
import { formatBuildTable, listQuery, recordJson } from './history.js';

const NOW = Date.UTC(2025, 0, 10, 12, 0, 0);

const rec = (
  id: string,
  over: Partial<BuildRecordWire['summary'] & object> = {},
  r: Partial<BuildRecordWire> = {},
) =>
  ({
    summary: {
      buildId: id,
      project: 'web',
      user: 'ann',
      platform: 'linux/amd64',
      startedMs: NOW - 5 * 60_000,
      finishedMs: NOW - 5 * 60_000 + 12_300,
      result: 'ok',
      steps: 8,
      cachedSteps: 6,
      savedMs: 41_000,
      builder: 'bld-one',
      ...over,
    },
    dockerfilePath: 'Dockerfile',
    target: '',
    error: '',
    hasTrace: true,
    traceBytes: 1234,
    traceCut: false,
    ...r,
  }) as BuildRecordWire;

test('the ls table: one line per build (a failed one with its error under it), columns aligned', () => {
  const out = formatBuildTable(
    [
      rec('0875e00f-21e4-45cd-adc9-c4db80dccd7b'),
      rec(
        '55194bb6-ef74-4c9f-bf71-f828036b4b5a',
        {
          result: 'failed',
          platform: 'linux/arm64',
          startedMs: NOW - 3 * 3_600_000,
          finishedMs: NOW - 3 * 3_600_000 + 2_000,
          cachedSteps: 2,
          savedMs: 0,
          builder: '',
        },
        {
          target: 'app',
          error: 'executor failed running [/bin/sh -c exit 3]: exit code: 3\nmore',
          traceCut: true,
        },
      ),
      rec('running-1', { result: 'running', finishedMs: 0, steps: 0, cachedSteps: 0, savedMs: 0 }),
    ],
    NOW,
  );
  assert.equal(
    out,
    [
      'ID            STARTED  DURATION  PLATFORM     TARGET  RESULT   CACHED  SAVED  BUILDER',
      '0875e00f-21e  5m ago   12.3s     linux/amd64  -       ok       6/8     41.0s  bld-one',
      '55194bb6-ef7  3h ago   2.0s      linux/arm64  app     failed*  2/8     0s     -',
      '  └ executor failed running [/bin/sh -c exit 3]: exit code: 3',
      'running-1     5m ago   -         linux/amd64  -       running  0/0     0s     bld-one',
      '',
    ].join('\n'),
  );
});

test('--json: ids whole, times as ms and ISO, the duration, and the trace facts', () => {
  assert.deepEqual(recordJson(rec('b-1')), {
    id: 'b-1',
    project: 'web',
    user: 'ann',
    platform: 'linux/amd64',
    builder: 'bld-one',
    startedAt: new Date(NOW - 5 * 60_000).toISOString(),
    startedMs: NOW - 5 * 60_000,
    finishedMs: NOW - 5 * 60_000 + 12_300,
    durationMs: 12_300,
    result: 'ok',
    steps: 8,
    cachedSteps: 6,
    savedMs: 41_000,
    dockerfilePath: 'Dockerfile',
    target: '',
    error: '',
    trace: { bytes: 1234, cut: false },
  });
  const running = recordJson(rec('r', { finishedMs: 0, result: 'running' }, { hasTrace: false }));
  assert.deepEqual([running.durationMs, running.trace], [null, null]);
});

test('flags are checked before any builder is asked', () => {
  assert.deepEqual(listQuery({ limit: '5', result: 'failed', platform: 'linux/arm64' }), {
    limit: 5,
    result: 'failed',
    platform: 'linux/arm64',
  });
  for (const limit of ['0', '501', 'x', '1.5']) assert.throws(() => listQuery({ limit }), /invalid --limit/);
  assert.throws(() => listQuery({ limit: '5', result: 'broken' }), /invalid --result/);
});

test("a fleet's separate histories: one list, newest first, at most the limit", () => {
  const at = (id: string, min: number) => rec(id, { startedMs: NOW - min * 60_000 });
  const merged = mergeBuildLists(
    [
      { builds: [at('a1', 1), at('a3', 3)], more: false },
      { builds: [at('b2', 2), at('b4', 4)], more: false },
    ],
    3,
  );
  assert.deepEqual(
    merged.builds.map((b) => b.summary?.buildId),
    ['a1', 'b2', 'a3'],
  );
  assert.equal(merged.more, true);
});
