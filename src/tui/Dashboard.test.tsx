import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import type { BuildSummaryWire, StatsQuery, StatsResponseWire } from '../session/client.js';
import { Dashboard, DashboardScreen } from './Dashboard.js';
import { createDashboardController, type StatsSource } from './dashboard-controller.js';
import { DASH_T, runningBuild, statsFixture } from './dashboard-fixtures.js';
import { DASHBOARD_SELECT_HINT } from './dashboard-layout.js';
import {
  type DashboardState,
  type DashboardView,
  dashboardCommandForKey,
  initialDashboardState,
  reduceDashboard,
} from './dashboard-state.js';
import { GOLDENS, golden } from './golden-files.js';
import { sparkline } from './stats-format.js';
import { cellWidth } from './text.js';

const SIZES = [
  [100, 30],
  [80, 24],
] as const;

function loadedState(view: DashboardView = 'overview', fleet = false): DashboardState {
  let s = fleet
    ? initialDashboardState('fleet file:/etc/depot/fleet.json · 2 builders, one history', '24h', true)
    : initialDashboardState('tcp://builder.internal:7000', '24h');
  s = reduceDashboard(s, { type: 'watch/connected', timeMs: DASH_T });
  s = reduceDashboard(s, {
    type: 'stats/loaded',
    timeMs: DASH_T,
    window: '24h',
    groupBy: 'project',
    response: statsFixture('24h', 'project'),
  });
  s = reduceDashboard(s, {
    type: 'stats/loaded',
    timeMs: DASH_T,
    window: '24h',
    groupBy: 'user',
    response: statsFixture('24h', 'user'),
  });
  while (s.view !== view) s = reduceDashboard(s, { type: 'view/cycled' });
  return s;
}

function frameOf(state: DashboardState, width: number, height: number): string[] {
  const r = render(<Dashboard state={state} onCommand={() => {}} width={width} height={height} />);
  const frame = stripVTControlCharacters(r.lastFrame() ?? '');
  r.unmount();
  return frame.split('\n');
}

function assertFits(lines: string[], width: number, height: number, name: string): void {
  for (const l of lines)
    assert.ok(cellWidth(l) <= width, `${name}: wider than ${width}: ${JSON.stringify(l)}`);
  assert.ok(lines.length <= height, `${name}: ${lines.length} lines on a ${height}-row screen`);
}

async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

for (const [w, h] of SIZES) {
  test(`overview at ${w}×${h}: totals, sparkline, running builds, projects, busters, keys`, () => {
    const lines = frameOf(loadedState('overview'), w, h);
    assertFits(lines, w, h, 'overview');
    const text = lines.join('\n');
    assert.match(text, /depot dashboard/);
    assert.match(text, /hit( ratio)? 81\.6%/);
    assert.match(text, /saved 1h16m/);
    assert.match(text, /143 builds \(3 failed\)/);
    assert.match(text, /(deduplicated|dedup) 17\.28GB/);
    assert.match(text, /hit rate \(hourly\) [▁▂▃▄▅▆▇█·]+/);
    assert.match(text, /builds · 2 running/);
    assert.match(text, /●[ ›]api +alice/);
    assert.match(text, /PROJECT +BUILDS +HIT +SAVED/);
    assert.match(text, /web-frontend/);
    assert.match(text, /top cache busters/);
    // Ranked with the rebuilds of the steps each root invalidated: the copy first.
    assert.match(text, /1\.[ ›]COPY \. \. +api +41 misses → 82 steps rebuilt · cost 1h1m/);
    assert.match(text, /2\. RUN npm ci +web-frontend +12 misses → 12 steps rebuilt · cost 46m0s/);
    assert.ok(lines.at(-1)?.startsWith(DASHBOARD_SELECT_HINT.slice(0, 10)), 'the key hint is the last line');
  });

  test(`a fleet's overview at ${w}×${h} names the builder of each build`, () => {
    let s = loadedState('overview', true);
    s = reduceDashboard(s, {
      type: 'build/watched',
      timeMs: DASH_T,
      summary: {
        ...runningBuild('b-99', 'billing-worker', 'bob', DASH_T - 90_000, 'bld-arm-1'),
        result: 'ok',
        finishedMs: DASH_T - 30_000,
      },
    });
    const lines = frameOf(s, w, h);
    assertFits(lines, w, h, 'fleet overview');
    const text = lines.join('\n');
    assert.match(text, /depot dashboard · fleet file:\/etc\/depot\/fleet\.json/);
    assert.match(text, /●[ ›]api +alice +bld-amd-1 /);
    assert.match(text, /● web-frontend +ci-bot +bld-arm-1 /);
    assert.match(text, /✔ billing-worker +bob +bld-arm-1 /);
    // The platform column stays where there is room for it.
    if (w >= 100) assert.match(text, /bld-amd-1 +linux\/amd64/);
    else assert.doesNotMatch(text, /linux\/amd64/);
  });

  for (const view of ['projects', 'users', 'busters'] as const) {
    test(`${view} view at ${w}×${h} fits and shows its table`, () => {
      const lines = frameOf(loadedState(view), w, h);
      assertFits(lines, w, h, view);
      const text = lines.join('\n');
      if (view === 'projects') {
        assert.match(text, /PROJECT +BUILDS +HIT +SAVED/);
        assert.match(text, /billing-worker +18 +69\.4%/);
      } else if (view === 'users') {
        assert.match(text, /USER +BUILDS +HIT +SAVED/);
        assert.match(text, /alice +70 +90\.5%/);
        assert.match(text, /ci-bot/);
      } else {
        // Each root with what it invalidated, as the golden screen has it.
        golden(`dashboard-busters-${w}x${h}`, lines.map((l) => l.trimEnd()).join('\n'));
        assert.match(text, /1\.[ ›]COPY \. \. +api +41 misses → 82 steps rebuilt · cost 1h1m/);
        assert.match(
          text,
          /causes: files 38 · no-cache 3\n +invalidated: RUN npm ci, RUN npm run build \(41m0s\)/,
        );
        assert.match(text, /→ fix \(copy-before-install\): copy package\.json/);
        assert.match(text, /→ fix \(arg-placement\): move `ARG NODE_ENV`/);
        assert.match(
          text,
          /3\. RUN go build \.\/\.\.\. +billing-worker +5 misses · cost 5m0s\n +causes: Dockerfile 5\n/,
        );
      }
    });
  }

  test(`before the first answer at ${w}×${h} the screen says it is loading`, () => {
    const s = reduceDashboard(initialDashboardState('tcp://b:1', '7d'), {
      type: 'stats/requested',
      timeMs: DASH_T,
      window: '7d',
    });
    const lines = frameOf(s, w, h);
    assertFits(lines, w, h, 'loading');
    assert.match(lines.join('\n'), /loading…/);
  });
}

test('every view fits very long names and many groups at 80×24', () => {
  const big = statsFixture('24h', 'project');
  big.groups = Array.from({ length: 40 }, (_, i) => ({
    key: `a-project-with-a-very-long-name-number-${i}`,
    totals: big.totals!,
  }));
  big.busters = big.busters.map((b) => ({
    ...b,
    step: `${b.step} ${'x'.repeat(120)}`,
    suggestion: 'y'.repeat(200),
  }));
  big.running = Array.from({ length: 12 }, (_, i) =>
    runningBuild(`r${i}`, 'p'.repeat(40), 'u'.repeat(30), DASH_T),
  );
  for (const view of ['overview', 'projects', 'users', 'busters'] as const) {
    let s = loadedState(view);
    s = reduceDashboard(s, {
      type: 'stats/loaded',
      timeMs: DASH_T,
      window: '24h',
      groupBy: 'project',
      response: big,
    });
    const lines = frameOf(s, 80, 24);
    assertFits(lines, 80, 24, `big ${view}`);
    if (view === 'projects') assert.match(lines.join('\n'), /… \d+ more/);
  }
});

test('a buster with a long instruction keeps its numbers: the instruction is cut', () => {
  const res = statsFixture('24h', 'project');
  res.busters = [{ ...res.busters[0]!, step: `COPY ${'src/very/long/path/'.repeat(8)} .` }];
  let s = loadedState('busters');
  s = reduceDashboard(s, {
    type: 'stats/loaded',
    timeMs: DASH_T,
    window: '24h',
    groupBy: 'project',
    response: res,
  });
  const first = frameOf(s, 80, 24).find((l) => /^1\.[ ›]/.test(l));
  assert.match(first ?? '', /^1\.[ ›]COPY src\/very\/long.*… +41 misses → 82 steps rebuilt · cost 1h1m$/);
  assert.ok(cellWidth(first ?? '') <= 80);
});

test('docs/cli.md shows the busters view as the golden has it', () => {
  const doc = readFileSync(join(GOLDENS, '..', '..', '..', 'docs', 'cli.md'), 'utf8');
  // Indented as a code block, the blank rows that fill the screen shown as one.
  const shot = readFileSync(join(GOLDENS, 'dashboard-busters-100x30.txt'), 'utf8')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^(?=.)/gm, '    ');
  assert.ok(doc.includes(shot), `docs/cli.md lacks goldens/dashboard-busters-100x30.txt:\n${shot}`);
});

test('sparkline: one glyph per bucket, merged when narrow, empty buckets dotted', () => {
  const series = [
    { startMs: 0, steps: 10, cachedSteps: 0 },
    { startMs: 1, steps: 10, cachedSteps: 10 },
    { startMs: 2, steps: 0, cachedSteps: 0 },
  ];
  assert.equal(sparkline(series, 3), '▁█·');
  assert.equal(sparkline(series, 9), '▁▁▁███···');
  assert.equal(sparkline(series, 2).length, 2);
  assert.equal(sparkline([], 10), '');
});

test('keys map to commands', () => {
  assert.deepEqual(dashboardCommandForKey('1', {}), { type: 'window/selected', window: '1h' });
  assert.deepEqual(dashboardCommandForKey('3', {}), { type: 'window/selected', window: '7d' });
  assert.deepEqual(dashboardCommandForKey('w', {}), { type: 'window/cycled' });
  assert.deepEqual(dashboardCommandForKey('', { tab: true }), { type: 'view/cycled' });
  assert.deepEqual(dashboardCommandForKey('v', {}), { type: 'view/cycled' });
  assert.deepEqual(dashboardCommandForKey('r', {}), { type: 'refresh/requested' });
  assert.deepEqual(dashboardCommandForKey('q', {}), { type: 'quit/requested' });
  assert.deepEqual(dashboardCommandForKey('c', { ctrl: true }), { type: 'quit/requested' });
  assert.equal(dashboardCommandForKey('x', {}), undefined);
});

test('WatchBuilds updates the running list; a finished build moves to recent', () => {
  let s = loadedState();
  s = reduceDashboard(s, {
    type: 'build/watched',
    timeMs: DASH_T + 1,
    summary: runningBuild('b-103', 'api', 'bob', DASH_T),
  });
  assert.deepEqual(
    s.running.map((b) => b.buildId),
    ['b-101', 'b-102', 'b-103'],
  );
  const done: BuildSummaryWire = {
    ...runningBuild('b-101', 'api', 'alice', DASH_T - 65_000),
    result: 'ok',
    finishedMs: DASH_T + 2,
  };
  s = reduceDashboard(s, { type: 'build/watched', timeMs: DASH_T + 2, summary: done });
  assert.deepEqual(
    s.running.map((b) => b.buildId),
    ['b-102', 'b-103'],
  );
  assert.equal(s.recent[0]?.buildId, 'b-101');
  // A Stats answer that still counts it as running does not bring it back.
  s = reduceDashboard(s, {
    type: 'stats/loaded',
    timeMs: DASH_T + 3,
    window: '24h',
    groupBy: 'project',
    response: statsFixture(),
  });
  assert.deepEqual(
    s.running.map((b) => b.buildId),
    ['b-102'],
  );
  // An answer for a window no longer shown is dropped.
  const before = s;
  s = reduceDashboard(s, {
    type: 'stats/loaded',
    timeMs: DASH_T + 4,
    window: '7d',
    groupBy: 'project',
    response: statsFixture('7d'),
  });
  assert.equal(s.byProject, before.byProject);
});

/** A StatsSource that answers from fixtures and records every question; builds are pushed by the test. */
function fakeSource() {
  const queries: StatsQuery[] = [];
  const pushed: BuildSummaryWire[] = [];
  let wake: (() => void) | undefined;
  const source: StatsSource = {
    async stats(q) {
      queries.push(q);
      return statsFixture(q.window, q.groupBy) as StatsResponseWire;
    },
    async *watchBuilds(signal) {
      while (!signal.aborted) {
        const next = pushed.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    },
  };
  return {
    source,
    queries,
    push(b: BuildSummaryWire) {
      pushed.push(b);
      wake?.();
    },
  };
}

test('keys switch window and view on the live screen and fetch Stats for the new window', async () => {
  const fake = fakeSource();
  let ticks: (() => void) | undefined;
  const controller = createDashboardController({
    source: fake.source,
    builderUrl: 'tcp://b:7000',
    window: '24h',
    now: () => DASH_T,
    timers: { setInterval: (fn) => (ticks = fn), clearInterval: () => {} },
  });
  controller.start();
  const r = render(<DashboardScreen store={controller} width={100} height={30} now={() => DASH_T} />);
  const frame = () => stripVTControlCharacters(r.lastFrame() ?? '');
  try {
    await waitFor(() => controller.getState().byUser !== null && controller.getState().byProject !== null);
    assert.deepEqual(fake.queries.map((q) => `${q.window}/${q.groupBy}`).sort(), ['24h/project', '24h/user']);
    await waitFor(() => /hit rate \(hourly\)/.test(frame()));

    const press = async (input: string, predicate: () => boolean) => {
      r.stdin.write(input);
      await waitFor(predicate);
    };
    await press('3', () => controller.getState().window === '7d' && controller.getState().byProject !== null);
    assert.deepEqual(
      fake.queries
        .slice(-2)
        .map((q) => `${q.window}/${q.groupBy}`)
        .sort(),
      ['7d/project', '7d/user'],
    );
    await waitFor(() => /hit rate \(daily\)/.test(frame()));
    await press('1', () => fake.queries.some((q) => q.window === '1h'));
    await press('w', () => fake.queries.at(-1)?.window === '24h');

    await press('\t', () => controller.getState().view === 'projects');
    await waitFor(() => /PROJECT +BUILDS/.test(frame()) && !/top cache busters/.test(frame()));
    await press('v', () => controller.getState().view === 'users');
    await waitFor(() => /USER +BUILDS/.test(frame()));
    await press('v', () => controller.getState().view === 'busters');
    await waitFor(() => /causes: files/.test(frame()));

    const asked = fake.queries.length;
    await press('r', () => fake.queries.length === asked + 2);
    // The refresh timer asks again too.
    ticks?.();
    await waitFor(() => fake.queries.length === asked + 4);

    // A build finishing on the builder re-queries Stats.
    const seen = fake.queries.length;
    fake.push({ ...runningBuild('b-200', 'api', 'bob', DASH_T), result: 'ok', finishedMs: DASH_T });
    await waitFor(() => fake.queries.length === seen + 2);
    assert.equal(controller.getState().recent[0]?.buildId, 'b-200');

    let quit = false;
    void controller.quit.then(() => {
      quit = true;
    });
    r.stdin.write('q');
    await waitFor(() => quit);
  } finally {
    controller.close();
    r.unmount();
  }
});

test('a failed Stats call is shown, not thrown', async () => {
  const controller = createDashboardController({
    source: {
      stats: async () => {
        throw new Error('permission denied: project token');
      },
      async *watchBuilds() {},
    },
    now: () => DASH_T,
    timers: { setInterval: () => 0, clearInterval: () => {} },
  });
  controller.start();
  await waitFor(() => controller.getState().error !== '');
  const lines = frameOf(controller.getState(), 80, 24);
  assert.match(lines.join('\n'), /permission denied/);
  await waitFor(() => controller.getState().watch === 'lost');
  controller.close();
});
