import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatsResponseWire } from '../session/index.js';
import { DASH_T, runningBuild, statsFixture } from '../tui/dashboard-fixtures.js';
import { mergeStats } from './fleet-history.js';

const finished = (id: string, builder: string, finishedMs: number) => ({
  ...runningBuild(id, 'api', 'alice', finishedMs - 60_000, builder),
  result: 'ok',
  finishedMs,
});

test('one history: its answer as it came', () => {
  const a = statsFixture('24h', 'project');
  assert.equal(mergeStats([a]), a);
});

test('separate histories: totals, groups and series summed, busters merged, builds interleaved', () => {
  const a: StatsResponseWire = {
    ...statsFixture('24h', 'project'),
    running: [runningBuild('a-1', 'api', 'alice', DASH_T - 5_000, 'bld-a')],
    recent: [finished('a-0', 'bld-a', DASH_T - 10_000), finished('a-00', 'bld-a', DASH_T - 50_000)],
  };
  const base = statsFixture('24h', 'project');
  const b: StatsResponseWire = {
    ...base,
    groups: [base.groups[0]!, { key: 'docs', totals: base.groups[2]!.totals }],
    busters: [
      {
        ...base.busters[0]!,
        misses: 1,
        costMs: 2_000_000,
        cascadedMisses: 2,
        cascadeCostMs: 60_000,
        invalidated: ['RUN npm ci'],
        suggestion: 'other advice',
        rule: 'r2',
      },
      { ...base.busters[2]!, project: 'docs' },
    ],
    running: [runningBuild('b-1', 'docs', 'bob', DASH_T - 90_000, 'bld-b')],
    recent: [finished('b-0', 'bld-b', DASH_T - 20_000)],
  };
  const m = mergeStats([a, b]);
  assert.deepEqual(
    [m.totals?.builds, m.totals?.steps, m.totals?.cachedSteps, m.totals?.failedBuilds],
    [286, 3432, 2800, 6],
  );
  assert.equal(m.totals?.hitRatio, 2800 / 3432);
  assert.deepEqual(
    m.groups.map((g) => [g.key, g.totals?.builds]),
    [
      ['api', 160],
      ['web-frontend', 45],
      ['billing-worker', 18],
      ['docs', 18],
    ],
  );
  assert.equal(m.series.length, 24);
  assert.deepEqual(m.series[0], {
    startMs: a.series[0]!.startMs,
    steps: 2 * a.series[0]!.steps,
    cachedSteps: 2 * a.series[0]!.cachedSteps,
  });
  // COPY . . of api: 41 + 1 misses, 82 + 2 rebuilds after them; the advice and invalidated steps
  // of the costlier side with its cascades (1,230,000 + 2,460,000 ms > 2,000,000 + 60,000 ms).
  const copy = m.busters.find((x) => x.project === 'api' && x.step === 'COPY . .')!;
  assert.deepEqual(
    [copy.misses, copy.costMs, copy.cascadedMisses, copy.cascadeCostMs, copy.rule, copy.invalidated],
    [42, 3_230_000, 84, 2_520_000, 'copy-before-install', ['RUN npm ci', 'RUN npm run build']],
  );
  assert.deepEqual(copy.causes, [
    { kind: 'changed_files', count: 76 },
    { kind: 'no_cache', count: 6 },
  ]);
  assert.deepEqual(
    m.busters.map((x) => [x.project, x.step]),
    [
      ['api', 'COPY . .'],
      ['web-frontend', 'RUN npm ci'],
      ['billing-worker', 'RUN go build ./...'],
      ['docs', 'RUN go build ./...'],
    ],
  );
  assert.deepEqual(
    m.running.map((r) => [r.buildId, r.builder]),
    [
      ['b-1', 'bld-b'],
      ['a-1', 'bld-a'],
    ],
  );
  assert.deepEqual(
    m.recent.map((r) => [r.buildId, r.builder]),
    [
      ['a-0', 'bld-a'],
      ['b-0', 'bld-b'],
      ['a-00', 'bld-a'],
    ],
  );
});
