import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BuildEvent, initialBuildState, reduceBuild } from '../progress/index.js';
import { layoutGraph, primaryParent, settledCount, stepLabel } from './graph-layout.js';
import { cellWidth, truncate } from './text.js';

const T = 1_750_000_000_000;
const v = (digest: string, name: string, inputs: string[] = [], over = {}): BuildEvent => ({
  type: 'vertex/updated',
  timeMs: T,
  vertex: { digest, name, inputs, cached: false, startedMs: 0, completedMs: 0, error: '', ...over },
});

test('guides: roots flush, │ under the row above in the same stage, └─ with a back-reference otherwise', () => {
  const state = [
    v('from', '[build 1/3] FROM busybox'),
    v('ctx', '[internal] load build context'),
    v('copy', '[build 2/3] COPY . .', ['from', 'ctx']),
    v('run', '[build 3/3] RUN make', ['copy']),
    v('final', '[stage-1 2/2] COPY --from=build /out /app', ['from', 'run']),
  ].reduce(reduceBuild, initialBuildState());
  assert.equal(primaryParent(state.steps, 2), 0, 'prefers the input of the same stage');
  assert.equal(primaryParent(state.steps, 4), 3, 'else the most recent input');
  const rows = layoutGraph(state, 80);
  assert.deepEqual(
    rows.map((r) => r.guide),
    ['', '', '└─ ', '│  ', '└─ '],
  );
  assert.match(rows[2]!.text, /^COPY \. \. ←#1 /);
  assert.deepEqual(state.steps.map(stepLabel), [
    'build 1/3',
    'internal',
    'build 2/3',
    'build 3/3',
    'stage-1 2/2',
  ]);
});

test('settled rows are the finished prefix, or all once the build finished', () => {
  let state = [
    v('a', 'a', [], { startedMs: T, completedMs: T + 1 }),
    v('b', 'b', [], { startedMs: T }),
    v('c', 'c', [], { cached: true, startedMs: T, completedMs: T }),
  ].reduce(reduceBuild, initialBuildState());
  assert.equal(settledCount(state), 1);
  state = reduceBuild(state, {
    type: 'build/finished',
    timeMs: T + 2,
    ok: false,
    imageId: '',
    error: 'x',
    errorCode: '',
  });
  assert.equal(settledCount(state), 3);
});

test('a cached step settles once the steps built on it have started', () => {
  let state = [
    v('from', '[1/3] FROM x', [], { cached: true, startedMs: T, completedMs: T }),
    v('install', '[2/3] RUN npm ci', ['from'], { cached: true, startedMs: T, completedMs: T }),
    v('rest', '[3/3] COPY . .', ['install']),
  ].reduce(reduceBuild, initialBuildState());
  assert.equal(settledCount(state), 1, 'the install waits for the copy built on it');
  state = reduceBuild(state, v('rest', '[3/3] COPY . .', ['install'], { startedMs: T + 1 }));
  assert.equal(settledCount(state), 2);
});

test('truncate cuts by terminal cells and marks the cut', () => {
  assert.equal(truncate('hello world', 8), 'hello w…');
  assert.equal(truncate('hello', 5), 'hello');
  assert.equal(cellWidth(truncate('日本語のテキスト', 7)), 7);
  assert.equal(truncate('abc', 0), '');
});

test('a step that ran shows a short cause; cached steps and narrow rows do not', () => {
  const cause = {
    kind: 'changed_files',
    text: 'src/app.js and 2 more changed under COPY src/ .',
    paths: ['src/app.js'],
    morePaths: 2,
    name: '',
    line: 0,
    digest: '',
  };
  const state = [
    v('ran', '[build 2/3] COPY src/ .', [], { startedMs: T, completedMs: T + 1200 }),
    v('hit', '[build 1/3] FROM busybox', [], { cached: true, startedMs: T, completedMs: T }),
    { type: 'step/explained', timeMs: T, vertex: 'ran', cause } as BuildEvent,
    { type: 'step/explained', timeMs: T, vertex: 'hit', cause } as BuildEvent,
  ].reduce(reduceBuild, initialBuildState());
  for (const width of [100, 80, 60]) {
    const rows = layoutGraph(state, width);
    const full = (r: (typeof rows)[number]) =>
      `✔ ${r.number} ${r.label}${r.guide}${r.text}${r.cause}${r.right}`;
    assert.equal(rows[0]?.cause, '  ⟳ src/app.js +2 changed ', `width ${width}`);
    assert.equal(rows[1]?.cause, '');
    for (const r of rows) assert.equal(cellWidth(full(r)), width, `width ${width}: ${full(r)}`);
  }
  assert.equal(layoutGraph(state, 30)[0]?.cause, '', 'no room');
});

test('a cached step the smart cache reused says so in its cause column; plain cached rows do not', () => {
  const state = [
    v('from', '[1/4] FROM node', [], { cached: true }),
    v('install', '[3/4] RUN npm ci', ['from'], { cached: true }),
    v('rest', '[4/4] COPY . .', ['install'], { startedMs: T, completedMs: T + 50 }),
    {
      type: 'step/reused',
      timeMs: T,
      vertex: 'install',
      text: 'npm ci reused by the smart cache',
    } as BuildEvent,
  ].reduce(reduceBuild, initialBuildState());
  const rows = layoutGraph(state, 100, T + 100);
  assert.equal(rows[1]!.cause.trim(), '↺ smart cache');
  assert.equal(rows[0]!.cause, '');
  assert.ok(rows.every((r) => cellWidth(r.text + r.cause + r.right) <= 100));
});
