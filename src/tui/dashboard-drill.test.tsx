import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import type {
  BuildRecordWire,
  BuildTraceChunkWire,
  ListBuildsQuery,
  StatsQuery,
  StatsResponseWire,
} from '../session/client.js';
import { DashboardScreen } from './Dashboard.js';
import { createDashboardController, type StatsSource } from './dashboard-controller.js';
import { DASH_T, runningBuild, statsFixture } from './dashboard-fixtures.js';
import {
  DRILL_BUILDS_HINT,
  DRILL_REPLAY_HINT,
  dashboardLineText,
  layoutDashboard,
} from './dashboard-layout.js';
import {
  type DashboardState,
  dashboardCommandForKey,
  initialDashboardState,
  reduceDashboard,
} from './dashboard-state.js';

const summary = (id: string, project: string, startedMs: number, result = 'ok') => ({
  buildId: id,
  project,
  user: 'ann',
  platform: 'linux/amd64',
  builder: 'bld-amd-1',
  startedMs,
  finishedMs: startedMs + 4000,
  result,
  steps: 2,
  cachedSteps: 1,
  savedMs: 1500,
});

const record = (id: string, project: string, startedMs: number, result = 'ok') =>
  ({
    summary: summary(id, project, startedMs, result),
    dockerfilePath: 'Dockerfile',
    target: 'app',
    error: result === 'failed' ? 'exit code: 3' : '',
    hasTrace: true,
    traceBytes: 100,
    traceCut: false,
  }) as unknown as BuildRecordWire;

/** A recorded build of one RUN step, as BuildTrace streams it. */
function trace(id: string, project: string): BuildTraceChunkWire[] {
  return [
    {
      header: {
        record: record(id, project, DASH_T - 60_000),
        dockerfile: 'FROM busybox\nRUN echo drill-step\n',
        events: 1,
        cut: null,
      },
      events: [],
    } as unknown as BuildTraceChunkWire,
    {
      header: null,
      events: [
        {
          timeMs: DASH_T - 59_000,
          event: {
            event: 'vertex',
            vertex: {
              digest: 'sha256:v1',
              inputs: [],
              name: '[2/2] RUN echo drill-step',
              cached: false,
              startedMs: DASH_T - 59_000,
              completedMs: DASH_T - 57_000,
              error: '',
            },
          },
        },
      ],
    } as unknown as BuildTraceChunkWire,
  ];
}

/** A source whose answers the test controls; records what it was asked. */
function fakeSource(opts: { listFails?: string } = {}) {
  const asked = { stats: 0, lists: [] as ListBuildsQuery[], traces: [] as [string, string | undefined][] };
  const source: StatsSource = {
    async stats(query: StatsQuery): Promise<StatsResponseWire> {
      asked.stats++;
      const res = statsFixture('24h', query.groupBy === 'user' ? 'user' : 'project');
      res.running = [runningBuild('b-run-1', 'api', 'ann', DASH_T - 5000)];
      res.recent = [{ ...summary('b-done-1', 'web-frontend', DASH_T - 60_000) }];
      return res;
    },
    async *watchBuilds(signal: AbortSignal) {
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
    async listBuilds(query) {
      asked.lists.push(query);
      if (opts.listFails) throw new Error(opts.listFails);
      return {
        builds: [
          record('b-new-1', query.project ?? '', DASH_T - 10_000),
          record('b-old-1', query.project ?? '', DASH_T - 99_000, 'failed'),
        ],
        more: false,
      };
    },
    async *buildTrace(buildId, _signal, project) {
      asked.traces.push([buildId, project]);
      yield* trace(buildId, project ?? '');
    },
  };
  return { source, asked };
}

/** Manual timers: the test fires the refresh itself. */
function manualTimers() {
  const fns: (() => void)[] = [];
  return {
    fire: () => {
      for (const f of fns) f();
    },
    timers: { setInterval: (fn: () => void) => fns.push(fn), clearInterval: () => {} },
  };
}

async function waitFor(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const screenText = (s: DashboardState, width = 100, rows = 29) =>
  layoutDashboard(s, { width, rows, nowMs: DASH_T }).map(dashboardLineText);

const key = (input: string, k: Record<string, boolean> = {}) => ({ input, k });
const ENTER = key('', { return: true });
const DOWN = key('', { downArrow: true });
const ESC = key('', { escape: true });

function press(c: ReturnType<typeof createDashboardController>, ...keys: ReturnType<typeof key>[]) {
  for (const { input, k } of keys) {
    const command = dashboardCommandForKey(input, k, c.getState().drill);
    if (command) c.dispatch(command);
  }
}

test('the overview selects a build by id: a build that starts before it does not move the selection', () => {
  let s = initialDashboardState('tcp://b:7000');
  const first = runningBuild('b-1', 'api', 'ann', DASH_T - 9000);
  const second = runningBuild('b-2', 'web', 'bob', DASH_T - 8000);
  s = reduceDashboard(s, { type: 'build/watched', timeMs: DASH_T, summary: first });
  s = reduceDashboard(s, { type: 'build/watched', timeMs: DASH_T, summary: second });
  assert.ok(
    screenText(s).some((l) => l.startsWith('●›api')),
    'the first build is selected before any key',
  );
  s = reduceDashboard(s, { type: 'selection/moved', delta: 1 });
  assert.equal(s.selected, 'b-2');
  // b-1 finishes and leaves the running list: the selection stays on b-2, which moved up a row.
  s = reduceDashboard(s, {
    type: 'build/watched',
    timeMs: DASH_T,
    summary: { ...first, result: 'ok', finishedMs: DASH_T },
  });
  assert.equal(s.selected, 'b-2');
  const text = screenText(s);
  assert.ok(
    text.some((l) => l.startsWith('●›web')),
    text.join('\n'),
  );
  assert.ok(!text.some((l) => l.startsWith('✔›')));
  // A view switch resets it.
  s = reduceDashboard(s, { type: 'view/cycled' });
  assert.equal(s.selected, '');
  assert.equal(s.view, 'projects');
});

test('keys: ↑/↓ k/j select and enter opens on the dashboard; esc/q go back from a drill; a replay takes the replay keys', () => {
  assert.deepEqual(dashboardCommandForKey('', { downArrow: true }), { type: 'selection/moved', delta: 1 });
  assert.deepEqual(dashboardCommandForKey('k', {}), { type: 'selection/moved', delta: -1 });
  assert.deepEqual(dashboardCommandForKey('', { return: true }), { type: 'selection/entered' });
  assert.deepEqual(dashboardCommandForKey('q', {}), { type: 'quit/requested' });
  const builds = {
    kind: 'builds' as const,
    project: 'api',
    step: '',
    status: 'loaded' as const,
    error: '',
    builds: [],
    selected: '',
  };
  assert.deepEqual(dashboardCommandForKey('q', {}, builds), { type: 'drill/closed' });
  assert.deepEqual(dashboardCommandForKey('', { escape: true }, builds), { type: 'drill/closed' });
  assert.equal(dashboardCommandForKey('w', {}, builds), undefined);
  const replay = {
    kind: 'replay' as const,
    buildId: 'b',
    project: 'api',
    status: 'loaded' as const,
    error: '',
    build: null,
    title: null,
    notes: [],
    ui: { selected: -1, details: false, waterfall: false, internal: false },
    back: null,
  };
  assert.deepEqual(dashboardCommandForKey('w', {}, replay), {
    type: 'replay/command',
    command: { type: 'waterfall/toggled' },
  });
  assert.deepEqual(dashboardCommandForKey('', { escape: true }, replay), { type: 'drill/closed' });
  // With the details open, esc closes them first.
  assert.deepEqual(
    dashboardCommandForKey('', { escape: true }, { ...replay, ui: { ...replay.ui, details: true } }),
    {
      type: 'replay/command',
      command: { type: 'logs/toggled' },
    },
  );
  assert.deepEqual(dashboardCommandForKey('', { ctrl: true }, replay), undefined);
  assert.deepEqual(dashboardCommandForKey('c', { ctrl: true }, replay), { type: 'quit/requested' });
});

test('enter on a build replays it inside the dashboard; its keys work; esc returns; q at the top quits', async () => {
  const { source, asked } = fakeSource();
  const t = manualTimers();
  const c = createDashboardController({
    source,
    builderUrl: 'tcp://b:7000',
    now: () => DASH_T,
    timers: t.timers,
  });
  c.start();
  await waitFor(() => c.getState().byProject !== null && c.getState().byUser !== null);
  press(c, DOWN, ENTER);
  assert.equal(c.getState().drill?.kind, 'replay');
  await waitFor(() => c.getState().drill?.status === 'loaded');
  // The finished build of web-frontend, asked of its own project.
  assert.deepEqual(asked.traces, [['b-done-1', 'web-frontend']]);
  const text = screenText(c.getState());
  assert.match(text[0] ?? '', /build b-done-1 · ok · linux\/amd64 · target app/);
  assert.ok(
    text.some((l) => l.includes('RUN echo drill-step')),
    text.join('\n'),
  );
  assert.equal(text.at(-1), DRILL_REPLAY_HINT);
  // The refresh timer keeps running under the replay.
  const before = asked.stats;
  t.fire();
  assert.equal(asked.stats, before + 2);
  press(c, key('w'));
  const opened = c.getState().drill;
  assert.equal(opened?.kind === 'replay' && opened.ui.waterfall, true);
  press(c, ESC);
  assert.equal(c.getState().drill, null);
  assert.equal(c.getState().selected, 'b-done-1');
  assert.equal(c.getState().quitting, false);
  press(c, key('q'));
  await c.quit;
  assert.equal(c.getState().quitting, true);
  c.close();
});

test('enter on a project lists its builds (asked for that project), enter replays one, esc goes back to the list then the dashboard', async () => {
  const { source, asked } = fakeSource();
  const c = createDashboardController({ source, now: () => DASH_T, timers: manualTimers().timers });
  c.start();
  await waitFor(() => c.getState().byProject !== null);
  press(c, key('v'), DOWN, ENTER);
  assert.equal(c.getState().drill?.kind, 'builds');
  await waitFor(() => c.getState().drill?.status === 'loaded');
  assert.equal(asked.lists[0]?.project, 'web-frontend');
  assert.equal(asked.lists[0]?.missedStep, undefined);
  const text = screenText(c.getState());
  assert.ok(text.includes('recent builds of web-frontend'), text.join('\n'));
  assert.ok(
    text.some((l) => /^ ›b-new-1 +10s ago +4\.0s +linux\/amd64 +app +ok +1\/2 +1\.5s +bld-amd-1$/.test(l)),
    text.join('\n'),
  );
  assert.ok(text.some((l) => /^ {2}b-old-1 .* failed /.test(l)));
  assert.equal(text.at(-1), DRILL_BUILDS_HINT);
  press(c, key('j'), ENTER);
  await waitFor(() => c.getState().drill?.kind === 'replay' && c.getState().drill?.status === 'loaded');
  assert.deepEqual(asked.traces, [['b-old-1', 'web-frontend']]);
  press(c, key('q'));
  assert.equal(c.getState().drill?.kind, 'builds');
  const list = c.getState().drill;
  assert.equal(list?.kind === 'builds' && list.selected, 'b-old-1');
  press(c, ESC);
  assert.equal(c.getState().drill, null);
  assert.equal(c.getState().view, 'projects');
  c.close();
});

test('a failed list is a line on the screen, not an exception; the busters view opens the buster’s project', async () => {
  const { source, asked } = fakeSource({ listFails: 'the builder at tcp://b:7000 keeps no build records' });
  const c = createDashboardController({ source, now: () => DASH_T, timers: manualTimers().timers });
  c.start();
  await waitFor(() => c.getState().byProject !== null);
  press(c, key('v'), key('v'), key('v'));
  assert.equal(c.getState().view, 'busters');
  press(c, ENTER);
  await waitFor(() => c.getState().drill?.status === 'failed');
  assert.equal(asked.lists[0]?.project, 'api');
  assert.equal(asked.lists[0]?.missedStep, 'COPY . .');
  const text = screenText(c.getState(), 80, 23);
  assert.ok(text.includes('the builder at tcp://b:7000 keeps no build records'), text.join('\n'));
  assert.match(
    text.find((l) => l.startsWith('recent builds of')) ?? '',
    /^recent builds of api where COPY \. \. missed$/,
  );
  assert.ok(text.length <= 23);
  c.close();
});

test('the Ink screen follows the drill: the replay drawn, then the dashboard again', async () => {
  const { source } = fakeSource();
  const c = createDashboardController({ source, now: () => DASH_T, timers: manualTimers().timers });
  c.start();
  await waitFor(() => c.getState().byProject !== null);
  const r = render(<DashboardScreen store={c} width={100} height={30} now={() => DASH_T} />);
  const frame = () => stripVTControlCharacters(r.lastFrame() ?? '');
  r.stdin.write('j');
  r.stdin.write('\r');
  await waitFor(() => frame().includes('RUN echo drill-step'));
  r.stdin.write('\u001B');
  await waitFor(() => frame().includes('top cache busters'));
  r.unmount();
  c.close();
});

test('keys that arrive in one chunk (typed faster than a render, tmux send-keys) all count', async () => {
  const { source } = fakeSource();
  const c = createDashboardController({ source, now: () => DASH_T, timers: manualTimers().timers });
  c.start();
  await waitFor(() => c.getState().byProject !== null);
  const r = render(<DashboardScreen store={c} width={100} height={30} now={() => DASH_T} />);
  const frame = () => stripVTControlCharacters(r.lastFrame() ?? '');
  r.stdin.write('j\r');
  await waitFor(() => frame().includes('RUN echo drill-step'));
  r.unmount();
  c.close();
});
