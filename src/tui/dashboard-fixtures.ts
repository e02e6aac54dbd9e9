import type { BuildSummaryWire, StatsGroupBy, StatsResponseWire, StatsWindow } from '../session/client.js';

/** A fixed clock for dashboard fixtures: 2025-06-15T15:06:40Z. */
export const DASH_T = 1_750_000_000_000;
const HOUR = 3_600_000;

const totals = (builds: number, steps: number, cached: number, savedMs: number, failed = 0) => ({
  builds,
  steps,
  cachedSteps: cached,
  hitRatio: steps > 0 ? cached / steps : 0,
  savedMs,
  buildMs: builds * 95_000,
  bytesDeduplicated: cached * 12_345_678,
  bytesUploaded: (steps - cached) * 345_678,
  failedBuilds: failed,
});

/** A running build summary (on `builder`, a builder of a fleet). */
export function runningBuild(
  id: string,
  project: string,
  user: string,
  startedMs: number,
  builder = 'bld-amd-1',
): BuildSummaryWire {
  return {
    buildId: id,
    project,
    user,
    platform: 'linux/amd64',
    builder,
    startedMs,
    finishedMs: 0,
    result: 'running',
    steps: 12,
    cachedSteps: 9,
    savedMs: 0,
  };
}

/** A Stats answer as a builder with two projects, three users and a day of history sends it. */
export function statsFixture(
  window: StatsWindow = '24h',
  groupBy: StatsGroupBy = 'project',
): StatsResponseWire {
  const groups =
    groupBy === 'project'
      ? [
          { key: 'api', totals: totals(80, 960, 850, 3_000_000, 2) },
          { key: 'web-frontend', totals: totals(45, 540, 400, 1_200_000, 1) },
          { key: 'billing-worker', totals: totals(18, 216, 150, 400_000) },
        ]
      : groupBy === 'user'
        ? [
            { key: 'alice', totals: totals(70, 840, 760, 2_600_000, 1) },
            { key: 'bob', totals: totals(50, 600, 470, 1_500_000, 2) },
            { key: 'ci-bot', totals: totals(23, 276, 170, 500_000) },
          ]
        : [{ key: 'linux/amd64', totals: totals(143, 1716, 1400, 4_600_000, 3) }];
  const buckets = window === '7d' ? 7 : window === '1h' ? 12 : 24;
  const step = window === '7d' ? 24 * HOUR : window === '1h' ? 5 * 60_000 : HOUR;
  const series = Array.from({ length: buckets }, (_, i) => ({
    startMs: DASH_T - (buckets - i) * step,
    steps: i % 5 === 3 ? 0 : 60 + i,
    cachedSteps: i % 5 === 3 ? 0 : Math.round((60 + i) * (0.3 + (0.7 * i) / buckets)),
  }));
  return {
    window,
    totals: totals(143, 1716, 1400, 4_600_000, 3),
    groups,
    series,
    busters: [
      {
        project: 'api',
        step: 'COPY . .',
        misses: 41,
        costMs: 1_230_000,
        causes: [
          { kind: 'changed_files', count: 38 },
          { kind: 'no_cache', count: 3 },
        ],
        suggestion:
          'copy package.json, package-lock.json first (`COPY package.json package-lock.json ./`), install, then copy the rest',
        rule: 'copy-before-install',
        finding:
          '`COPY . .` copies the whole context before `RUN npm ci` (line 4): any change to a copied file reruns the install',
        // Each miss invalidated the install and the build after it.
        cascadedMisses: 82,
        cascadeCostMs: 2_460_000,
        invalidated: ['RUN npm ci', 'RUN npm run build'],
      },
      {
        project: 'web-frontend',
        step: 'RUN npm ci',
        misses: 12,
        costMs: 2_400_000,
        causes: [
          { kind: 'changed_files', count: 9 },
          { kind: 'build_arg', count: 3 },
        ],
        suggestion: 'move `ARG NODE_ENV` down to just above line 9',
        rule: 'arg-placement',
        finding:
          'ARG NODE_ENV is declared 1 RUN step before its first use (line 9): a new value reruns `RUN npm ci`',
        cascadedMisses: 12,
        cascadeCostMs: 360_000,
        invalidated: ['RUN npm run build'],
      },
      {
        project: 'billing-worker',
        step: 'RUN go build ./...',
        misses: 5,
        costMs: 300_000,
        causes: [{ kind: 'dockerfile_changed', count: 5 }],
        suggestion: '',
        rule: '',
        finding: '',
        cascadedMisses: 0,
        cascadeCostMs: 0,
        invalidated: [],
      },
    ],
    running: [
      runningBuild('b-101', 'api', 'alice', DASH_T - 65_000),
      runningBuild('b-102', 'web-frontend', 'ci-bot', DASH_T - 12_000, 'bld-arm-1'),
    ],
    recent: [],
  };
}
