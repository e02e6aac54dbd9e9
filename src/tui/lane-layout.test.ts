import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type BuildEvent,
  type BuildState,
  initialBuildState,
  parseEventLines,
  reduceBuild,
  type StepCauseInfo,
} from '../progress/index.js';
import { blockSettled, type LaneLayoutOptions, layoutLanes } from './lane-layout.js';
import { segmentsText } from './segments.js';
import { cellWidth } from './text.js';

const FIXTURES = new URL('../progress/fixtures/', import.meta.url);
const fixture = (name: string): BuildState =>
  parseEventLines(readFileSync(new URL(`${name}.jsonl`, FIXTURES), 'utf8')).reduce(
    reduceBuild,
    initialBuildState(),
  );

const T = 1_750_000_000_000;
const v = (digest: string, name: string, inputs: string[] = [], over = {}): BuildEvent => ({
  type: 'vertex/updated',
  timeMs: T,
  vertex: { digest, name, inputs, cached: false, startedMs: 0, completedMs: 0, error: '', ...over },
});
const CAUSE: StepCauseInfo = {
  kind: 'changed_files',
  text: 'src/app.js and 2 more changed under COPY src/ .',
  paths: ['src/app.js'],
  morePaths: 2,
  name: '',
  line: 0,
  digest: '',
};
const texts = (state: BuildState, o: Partial<LaneLayoutOptions> & { width: number }) =>
  layoutLanes(state, { nowMs: state.nowMs, frame: '⠋', ...o }).map((l) => segmentsText(l.segments));

test('no line is wider than the terminal, from 20 to 200 columns, folded or not, live or not', () => {
  const names = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => f.slice(0, -'.jsonl'.length));
  for (const name of names) {
    const state = fixture(name);
    for (const width of [20, 40, 60, 80, 100, 119, 120, 140, 200])
      for (const unfold of [false, true])
        for (const line of texts(state, { width, unfold, live: !unfold, unfoldKey: 'i' }))
          assert.ok(cellWidth(line) <= width, `${name} at ${width}: ${JSON.stringify(line)}`);
  }
});

test('a step that ran shows a short cause; cached steps and narrow rows do not', () => {
  const state = [
    v('hit', '[1/3] FROM busybox', [], { cached: true, startedMs: T, completedMs: T }),
    v('ran', '[2/3] COPY src/ .', ['hit'], { startedMs: T, completedMs: T + 1200 }),
    { type: 'step/explained', timeMs: T, vertex: 'ran', cause: CAUSE } as BuildEvent,
    { type: 'step/explained', timeMs: T, vertex: 'hit', cause: CAUSE } as BuildEvent,
  ].reduce(reduceBuild, initialBuildState());
  for (const width of [100, 80, 60]) {
    const [from, copy] = texts(state, { width });
    assert.match(copy ?? '', /^● #2 {2}└ COPY src\/ \. +⟳ src\/app\.js \+2 changed 1\.2s$/, `width ${width}`);
    assert.equal(cellWidth(copy ?? ''), width);
    assert.doesNotMatch(from ?? '', /⟳/);
  }
  assert.doesNotMatch(texts(state, { width: 30 })[1] ?? '', /⟳/, 'no room for the cause');
});

test('the smart cache’s reuse, the view’s own marks where the builder said nothing, the selection', () => {
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
  const lines = texts(state, { width: 100, marks: { rest: '← src/app.js +2' }, selected: 'install' });
  assert.match(lines[1] ?? '', /^✔›#2 {2}│ RUN npm ci +↺ smart cache CACHED$/);
  assert.match(lines[2] ?? '', /^● #3 {2}└ COPY \. \. +← src\/app\.js \+2 0\.1s$/);
  assert.ok(!lines.some((l, i) => i !== 1 && l.includes('›')));
});

test('a build that ended with a step still running shows it cancelled', () => {
  const state = [v('run', '[1/1] RUN sleep 30', [], { startedMs: T })].reduce(
    reduceBuild,
    initialBuildState(),
  );
  assert.match(texts(state, { width: 80 })[0] ?? '', /^⠋ #1 .* 0\.0s$/);
  assert.match(texts(state, { width: 80, over: true })[0] ?? '', /^- #1 .*CANCELED$/);
});

test('settled parts: the header once the steps and the context came, a lane band once its steps (and causes) are in', () => {
  let state = [
    v('def', '[internal] load build definition from Dockerfile', [], { startedMs: T, completedMs: T + 1 }),
  ].reduce(reduceBuild, initialBuildState());
  const settled = (block: 'head' | 'band-0') =>
    blockSettled(state, layoutLanes(state, { width: 80, nowMs: state.nowMs, frame: '' }), block);
  assert.equal(settled('head'), false, 'no step reported yet');
  state = [
    v('from', '[1/3] FROM busybox', [], { cached: true }),
    v('copy', '[2/3] COPY . .', ['from', 'ctx']),
    v('run', '[3/3] RUN make', ['copy']),
  ].reduce(reduceBuild, state);
  assert.equal(settled('head'), false, 'the COPY reads the context, which has not come');
  state = reduceBuild(
    state,
    v('ctx', '[internal] load build context', [], { startedMs: T, completedMs: T + 2 }),
  );
  assert.equal(settled('head'), true);
  assert.equal(settled('band-0'), false);
  state = [
    v('copy', '[2/3] COPY . .', ['from', 'ctx'], { startedMs: T, completedMs: T + 3 }),
    { type: 'step/explained', timeMs: T, vertex: 'copy', cause: CAUSE } as BuildEvent,
    v('run', '[3/3] RUN make', ['copy'], { startedMs: T, completedMs: T + 4 }),
  ].reduce(reduceBuild, state);
  assert.equal(settled('band-0'), false, 'the RUN’s cause is still to come');
  state = reduceBuild(state, { type: 'step/explained', timeMs: T, vertex: 'run', cause: CAUSE });
  assert.equal(settled('band-0'), true);
});
