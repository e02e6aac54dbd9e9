/**
 * DevState fixtures for the dev screens' tests, built by feeding events to the real reducer:
 * a Node app's Dockerfile whose steps can be put in any phase.
 */
import { initialDevState, reduceDev } from '../dev/reducer.js';
import type { BuildTrigger, DevCommand, DevEvent, DevState } from '../dev/types.js';
import type { BuildEvent } from '../progress/index.js';

/** The fixtures' clock origin. */
export const T = 1_750_000_000_000;
export const BUILDER_URL = 'tcp://builder.internal:7443';
export const SNAPSHOT = 'sha256:79c6d61344be00e74b64db50b5b9639bbfd2d845d2d686ec380526eb898a9d8a';

/** Steps of the fixture build: vertex name and the indexes of its inputs. */
export const APP_STEPS: readonly { name: string; inputs: number[] }[] = [
  { name: '[internal] load build definition from Dockerfile', inputs: [] },
  { name: '[internal] load metadata for docker.io/library/node:20-alpine', inputs: [] },
  { name: '[internal] load .dockerignore', inputs: [] },
  { name: '[internal] load build context', inputs: [] },
  { name: '[1/7] FROM docker.io/library/node:20-alpine', inputs: [] },
  { name: '[2/7] WORKDIR /app', inputs: [4] },
  { name: '[3/7] COPY package.json package-lock.json ./', inputs: [5, 3] },
  { name: '[4/7] RUN npm ci', inputs: [6] },
  { name: '[5/7] COPY src ./src', inputs: [7, 3] },
  { name: '[6/7] RUN npm run build', inputs: [8] },
  { name: '[7/7] RUN npm test', inputs: [9] },
  { name: 'exporting to image', inputs: [10] },
];

export type StepPlan = 'cached' | 'done' | 'running' | 'waiting' | 'failed';

export const digestOf = (i: number) => `sha256:step${String(i).padStart(2, '0')}`;

/** Connected to a builder, watching, one snapshot acknowledged. */
export function connectedEvents(at = T): DevEvent[] {
  return [
    { type: 'session/connecting', timeMs: at, url: BUILDER_URL },
    {
      type: 'session/connected',
      timeMs: at + 40,
      url: BUILDER_URL,
      builderId: 'bld-7f3a9c',
      platform: 'linux/amd64',
      latencyMs: 3,
    },
    { type: 'watch/started', timeMs: at + 41, polling: false, message: '' },
    { type: 'sync/started', timeMs: at + 50, paths: [], full: true },
    { type: 'sync/acked', timeMs: at + 180, snapshotId: SNAPSHOT, entries: 812, bytesSent: 1100 },
  ];
}

/**
 * A build of the fixture Dockerfile: `plan[i]` is the phase of step i (missing steps are not
 * reported yet); a failed step logs `failLines` lines. Durations: 100 ms per step.
 */
export function buildEvents(
  buildId: string,
  at: number,
  trigger: BuildTrigger,
  plan: readonly StepPlan[],
  failLines = 3,
): DevEvent[] {
  const out: DevEvent[] = [{ type: 'build/started', timeMs: at, buildId, trigger }];
  const wrap = (event: BuildEvent): DevEvent => ({
    type: 'build/progressed',
    timeMs: event.timeMs,
    buildId,
    event,
  });
  out.push(
    wrap({ type: 'build/started', timeMs: at, builderId: 'bld-7f3a9c', platform: 'linux/amd64', buildId }),
  );
  plan.forEach((phase, i) => {
    const step = APP_STEPS[i];
    if (!step) return;
    const start = at + 100 * (i + 1);
    const vertex = {
      digest: digestOf(i),
      name: step.name,
      inputs: step.inputs.map(digestOf),
      cached: phase === 'cached',
      startedMs: phase === 'waiting' ? 0 : start,
      completedMs: phase === 'cached' || phase === 'done' ? start + 100 : 0,
      error:
        phase === 'failed' ? 'process "/bin/sh -c npm test" did not complete successfully: exit code: 1' : '',
    };
    if (phase === 'failed') {
      out.push(wrap({ type: 'vertex/updated', timeMs: start, vertex: { ...vertex, error: '' } }));
      const data = Array.from(
        { length: failLines },
        (_, j) => `test ${j + 1} failed: expected 2, got 3\n`,
      ).join('');
      out.push(wrap({ type: 'log/appended', timeMs: start + 50, vertex: digestOf(i), stream: 2, data }));
    }
    if (phase === 'running') {
      out.push(wrap({ type: 'vertex/updated', timeMs: start, vertex }));
      const data = '> app@1.0.0 build\n> tsc -p .\n';
      out.push(wrap({ type: 'log/appended', timeMs: start + 20, vertex: digestOf(i), stream: 1, data }));
    } else out.push(wrap({ type: 'vertex/updated', timeMs: start + (phase === 'failed' ? 100 : 0), vertex }));
  });
  return out;
}

/** Every step of the fixture build in one phase. */
export const allSteps = (phase: StepPlan): StepPlan[] => APP_STEPS.map(() => phase);

/** A finished build: `ok` (loaded 12 kB), `failed` or `cancelled`. */
export function finishedBuildEvents(
  seq: number,
  at: number,
  outcome: 'ok' | 'failed' | 'cancelled',
  trigger: BuildTrigger = { reason: 'change', paths: ['src/app.js'] },
): DevEvent[] {
  const buildId = `build-${seq}`;
  const plan: StepPlan[] =
    outcome === 'failed'
      ? [...allSteps('cached').slice(0, 10), 'failed', 'waiting']
      : outcome === 'cancelled'
        ? [...allSteps('cached').slice(0, 8), 'running']
        : [...allSteps('cached').slice(0, 8), 'done', 'done', 'done', 'done'];
  const events = buildEvents(buildId, at, trigger, plan);
  const end = at + 1200;
  if (outcome === 'cancelled')
    return [...events, { type: 'build/cancelled', timeMs: end, buildId, reason: 'newer change' }];
  if (outcome === 'failed')
    return [
      ...events,
      {
        type: 'build/finished',
        timeMs: end,
        buildId,
        ok: false,
        imageId: '',
        error: 'process "/bin/sh -c npm test" did not complete successfully: exit code: 1\nmore detail',
      },
    ];
  return [
    ...events,
    { type: 'build/finished', timeMs: end, buildId, ok: true, imageId: 'sha256:feedface00112233', error: '' },
    { type: 'load/started', timeMs: end + 1, buildId, imageId: 'sha256:feedface00112233' },
    { type: 'load/finished', timeMs: end + 40, buildId, bytes: 12_000, imageSize: 5_400_000 },
  ];
}

/** The state after `actions`, on a `width`×`height` screen. */
export function devStateOf(actions: readonly (DevEvent | DevCommand)[], width = 80, height = 24): DevState {
  const start = initialDevState('/work/app', BUILDER_URL, { width, height });
  return actions.reduce(reduceDev, start);
}

/** The trigger of the fixtures' running build: five changed files, three under `src/`. */
export const CHANGE: BuildTrigger = {
  reason: 'change',
  paths: ['src/app.js', 'src/lib.js', 'src/util/a.js', 'README.md', 'docs/x.md'],
};

/** Connected; build #1 done; build #2 running `RUN npm run build` after `COPY src ./src` re-ran. */
export function runningActions(): (DevEvent | DevCommand)[] {
  return [
    ...connectedEvents(),
    ...finishedBuildEvents(1, T + 1000, 'ok', { reason: 'initial', paths: [] }),
    ...buildEvents('build-2', T + 10_000, CHANGE, [
      ...allSteps('done').slice(0, 4),
      'cached',
      'cached',
      'cached',
      'cached',
      'done',
      'running',
      'waiting',
      'waiting',
    ]),
    {
      type: 'watch/changed',
      timeMs: T + 11_500,
      paths: ['src/view.js', 'src/style.css'],
      quietUntilMs: T + 11_620,
    },
    {
      type: 'build/pending',
      timeMs: T + 11_500,
      trigger: { reason: 'change', paths: ['src/view.js', 'src/style.css'] },
      waitingFor: 'waiting for the quiet period',
    },
  ];
}

/** A build of `n` chained `RUN` steps: those before `runningAt` done, that one running, the rest waiting. */
export function longBuildEvents(buildId: string, at: number, n: number, runningAt: number): DevEvent[] {
  const out: DevEvent[] = [
    { type: 'build/started', timeMs: at, buildId, trigger: { reason: 'manual', paths: [] } },
  ];
  for (let i = 0; i < n; i++) {
    const start = at + 100 * (i + 1);
    out.push({
      type: 'build/progressed',
      timeMs: start,
      buildId,
      event: {
        type: 'vertex/updated',
        timeMs: start,
        vertex: {
          digest: `sha256:long${i}`,
          name: `[${i + 1}/${n}] RUN ./step-${i + 1}.sh`,
          inputs: i > 0 ? [`sha256:long${i - 1}`] : [],
          cached: false,
          startedMs: i <= runningAt ? start : 0,
          completedMs: i < runningAt ? start + 100 : 0,
          error: '',
        },
      },
    });
  }
  return out;
}
