import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { stagePlan } from '../dockerfile/index.js';
import { causeRoot } from './cause.js';
import type { BuildEvent, StepCauseInfo } from './events.js';
import { parseEventLines } from './json.js';
import { buildLanes, buildWideCause, graphOrder } from './lanes.js';
import { type BuildState, initialBuildState, reduceBuild } from './state.js';

const fixture = (name: string): BuildState =>
  parseEventLines(readFileSync(new URL(`fixtures/${name}.jsonl`, import.meta.url), 'utf8')).reduce(
    reduceBuild,
    initialBuildState(),
  );

const T = 1_750_000_000_000;
const v = (digest: string, name: string, inputs: string[] = [], over = {}): BuildEvent => ({
  type: 'vertex/updated',
  timeMs: T,
  vertex: { digest, name, inputs, cached: false, startedMs: T, completedMs: T + 1, error: '', ...over },
});
const cause = (over: Partial<StepCauseInfo> = {}): StepCauseInfo => ({
  kind: 'changed_files',
  text: 'src/a.txt changed under COPY src/ /src/',
  paths: ['src/a.txt'],
  morePaths: 0,
  name: '',
  line: 0,
  digest: '',
  ...over,
});

test('a recorded four-stage build: lanes by stage, the shared FROM in each, edges and levels from the Dockerfile', () => {
  const state = fixture('graph-edit');
  const g = buildLanes(state, stagePlan(state.definition!.dockerfile));
  const num = (d: string | undefined) => state.steps.find((s) => s.digest === d)?.number;
  assert.deepEqual(
    g.lanes.map((l) => ({
      label: l.label,
      level: l.level,
      base: l.base,
      from: num(l.from?.digest),
      steps: l.steps.map((s) => s.number),
      reads: l.reads.map((r) => `${r.from}/${r.kind}${r.step ? `@#${num(r.step)}` : ''}`),
      feeds: l.feeds,
    })),
    [
      {
        label: 'deps',
        level: 0,
        base: 'FROM busybox',
        from: 4,
        steps: [5, 7, 8],
        reads: [],
        feeds: ['build'],
      },
      {
        label: 'assets',
        level: 0,
        base: 'FROM busybox',
        from: 4,
        steps: [12, 13, 14],
        reads: [],
        feeds: ['stage-3'],
      },
      {
        label: 'build',
        level: 1,
        base: 'FROM deps',
        from: undefined,
        steps: [9, 10],
        reads: ['deps/from'],
        feeds: ['stage-3'],
      },
      {
        label: 'stage-3',
        level: 2,
        base: 'FROM busybox',
        from: 4,
        steps: [11, 15, 16],
        reads: ['build/copy@#11', 'assets/mount@#15'],
        feeds: [],
      },
    ],
  );
  assert.deepEqual(
    g.head.steps.map((s) => s.instruction),
    [
      'load build definition from Dockerfile',
      'load .dockerignore',
      'load metadata for docker.io/library/busybox:latest',
      'load build context',
    ],
  );
  assert.deepEqual(
    [g.head.dockerfileBytes, g.head.contextBytes, g.head.images],
    [31, 215, ['busybox:latest']],
  );
  assert.deepEqual(
    g.tail.steps.map((s) => s.name),
    ['exporting to image'],
  );
  assert.deepEqual(
    g.lanes.map((l) => l.phase),
    ['cached', 'cached', 'done', 'done'],
  );
  // Every cascaded miss names the COPY whose file changed.
  assert.deepEqual(
    [...g.roots].map(([d, root]) => `${num(d)}->${root.number}`),
    ['10->9', '11->9', '15->9', '16->9'],
  );
  assert.deepEqual(
    graphOrder(g, false).map((s) => s.number),
    [4, 5, 7, 8, 12, 13, 14, 9, 10, 11, 15, 16],
  );
  assert.equal(graphOrder(g, true).length, state.steps.length, 'every step once');
});

test('only the stages the target needs; without the Dockerfile, lanes from names and edges from inputs', () => {
  const dockerfile =
    'FROM busybox AS a\nRUN a\nFROM busybox AS unused\nRUN u\nFROM busybox AS b\nCOPY --from=a /x /x\n';
  const events: BuildEvent[] = [
    v('from', '[a 1/2] FROM docker.io/library/busybox', [], { cached: true }),
    v('ra', '[a 2/2] RUN a', ['from']),
    v('cb', '[b 2/2] COPY --from=a /x /x', ['from', 'ra']),
  ];
  const defined = [
    { type: 'build/defined', timeMs: T, dockerfile, target: '' } as BuildEvent,
    ...events,
  ].reduce(reduceBuild, initialBuildState());
  const g = buildLanes(defined, stagePlan(dockerfile));
  assert.deepEqual(
    g.lanes.map((l) => `${l.label}:${l.level}:${l.from ? 'from' : '-'}:${l.reads.map((r) => r.from).join()}`),
    ['a:0:from:', 'b:1:from:a'],
  );
  // --target a: b is not built, so not drawn.
  const targeted = buildLanes(
    reduceBuild(defined, { type: 'build/defined', timeMs: T, dockerfile, target: 'a' }),
    stagePlan(dockerfile),
  );
  assert.deepEqual(
    targeted.lanes.map((l) => l.label),
    ['a'],
  );
  const bare = buildLanes(events.reduce(reduceBuild, initialBuildState()));
  assert.deepEqual(
    bare.lanes.map(
      (l) => `${l.label}:${l.level}:${l.base}:${l.reads.map((r) => `${r.from}/${r.kind}`).join()}`,
    ),
    ['a:0:FROM docker.io/library/busybox:', 'b:1:FROM docker.io/library/busybox:a/input'],
  );
});

test('the root of a cascade: by the vertex the builder names, else by the instruction its text quotes', () => {
  const root = cause();
  const follows = cause({ text: `follows from COPY src/ /src/: ${root.text}` });
  const events: BuildEvent[] = [
    v('copy', '[2/3] COPY src/ /src/'),
    v('run', '[3/3] RUN make', ['copy']),
    { type: 'step/explained', timeMs: T, vertex: 'copy', cause: root },
  ];
  const named = [
    ...events,
    { type: 'step/explained', timeMs: T, vertex: 'run', cause: { ...follows, rootVertex: 'copy' } },
  ];
  const old = [...events, { type: 'step/explained', timeMs: T, vertex: 'run', cause: follows }];
  for (const list of [named, old] as BuildEvent[][]) {
    const state = list.reduce(reduceBuild, initialBuildState());
    assert.equal(causeRoot(state, state.steps[1]!)?.number, 1);
    assert.equal(causeRoot(state, state.steps[0]!), undefined, 'a root has no root');
  }
});

test('first build and --no-cache are the build’s cause, not a step’s', () => {
  const events: BuildEvent[] = [
    v('a', '[1/2] RUN a'),
    v('b', '[2/2] RUN b', ['a']),
    {
      type: 'step/explained',
      timeMs: T,
      vertex: 'a',
      cause: cause({ kind: 'first_build', text: 'first build of Dockerfile' }),
    },
  ];
  const state = events.reduce(reduceBuild, initialBuildState());
  assert.equal(buildWideCause(state)?.kind, 'first_build');
  assert.equal(buildWideCause(fixture('graph-edit')), null);
});
