import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { render } from 'ink-testing-library';
import { type BuildEvent, initialBuildState, parseEventLines, reduceBuild } from '../progress/index.js';
import { ColorMode } from './segments.js';
import { Waterfall } from './Waterfall.js';
import { criticalPath, layoutWaterfall, waterfallSummary, waterfallWindow } from './waterfall-layout.js';

const T = 1_750_000_000_000;
const fixture = (name: string) =>
  parseEventLines(readFileSync(new URL(`../progress/fixtures/${name}.jsonl`, import.meta.url), 'utf8'));

/** A vertex event: name, inputs, start and end in ms after T (end 0: running), cached. */
function v(
  digest: string,
  name: string,
  inputs: string[],
  from: number,
  to: number,
  cached = false,
): BuildEvent {
  return {
    type: 'vertex/updated',
    timeMs: T + Math.max(from, to),
    vertex: {
      digest,
      name,
      inputs,
      cached,
      startedMs: cached ? 0 : T + from,
      completedMs: to ? T + to : 0,
      error: '',
    },
  };
}

/** Two stages built in parallel that meet in the final stage: deps (long) and assets (short). */
function twoStages(done: boolean): BuildEvent[] {
  const events: BuildEvent[] = [
    { type: 'build/started', timeMs: T, builderId: 'b', platform: 'linux/amd64', buildId: 'x' },
    v('base', '[deps 1/2] FROM docker.io/library/busybox', [], 0, 10, true),
    v('deps', '[deps 2/2] RUN make deps', ['base'], 100, 4100),
    v('assets', '[assets 2/2] RUN make assets', ['base'], 100, 1100),
    v('copy1', '[final 2/3] COPY --from=assets /out /assets', ['base', 'assets'], 1150, 1200),
    v('copy2', '[final 3/3] COPY --from=deps /out /deps', ['copy1', 'deps'], 4150, done ? 4300 : 0),
  ];
  if (done)
    events.push({
      type: 'build/finished',
      timeMs: T + 4400,
      ok: true,
      imageId: 'sha256:1',
      errorCode: '',
      error: '',
    } as BuildEvent);
  return events;
}

const state = (events: BuildEvent[]) => events.reduce(reduceBuild, initialBuildState());

test('the critical path follows the input each step waited for longest', () => {
  const s = state(twoStages(true));
  // copy2 waited for deps (finished at 4100), not copy1 (1200); deps for base.
  assert.deepEqual(criticalPath(s), ['base', 'deps', 'copy2']);
  // While copy2 runs, it is the end of the path already.
  assert.deepEqual(criticalPath(state(twoStages(false)), T + 4200), ['base', 'deps', 'copy2']);
});

test('bars are placed on one time axis: parallel steps overlap, later steps start later', () => {
  const s = state(twoStages(true));
  const w = layoutWaterfall(s, 100);
  const row = (d: string) => w.rows.find((r) => r.digest === d)!;
  assert.equal(w.spanMs, 4400);
  // deps and assets start together; deps is four times longer.
  assert.equal(row('deps').lead, row('assets').lead);
  assert.ok(
    Math.abs(row('deps').bar.length - 4 * row('assets').bar.length) <= 2,
    `${row('deps').bar.length} ${row('assets').bar.length}`,
  );
  assert.ok(row('copy2').lead > row('copy1').lead);
  // Every row is the axis wide, and a cache hit is a tick.
  for (const r of w.rows)
    assert.equal(r.lead + r.bar.length + r.trail, w.rows[0]!.lead + w.rows[0]!.bar.length + w.rows[0]!.trail);
  assert.equal(row('base').bar, '▏');
  assert.equal(row('base').right.trim(), 'CACHED');
  assert.deepEqual(
    w.rows.filter((r) => r.critical).map((r) => r.digest),
    ['base', 'deps', 'copy2'],
  );
  assert.equal(w.criticalMs, 4000 + 150);
  assert.equal(waterfallSummary(s, w), 'took 4.4s · critical path 4.2s (2 steps)');
  // The builder tells what the cached FROM would have run cold.
  const told = reduceBuild(s, { type: 'step/saved', timeMs: T + 4400, vertex: 'base', coldMs: 2500 });
  assert.equal(
    waterfallSummary(told, layoutWaterfall(told, 100)),
    'took 4.4s · critical path 4.2s (2 steps) · cold ~6.9s · saved ~2.5s',
  );
  // A cold duration of a step that ran is no saving.
  const ran = reduceBuild(s, { type: 'step/saved', timeMs: T + 4400, vertex: 'deps', coldMs: 9000 });
  assert.equal(waterfallSummary(ran, layoutWaterfall(ran, 100)), 'took 4.4s · critical path 4.2s (2 steps)');
});

test('a running bar grows with the clock', () => {
  const s = state(twoStages(false));
  const early = layoutWaterfall(s, 100, T + 4200).rows.find((r) => r.digest === 'copy2')!;
  const later = layoutWaterfall(s, 100, T + 8000).rows.find((r) => r.digest === 'copy2')!;
  assert.equal(early.phase, 'running');
  assert.ok(later.bar.length > early.bar.length, `${early.bar.length} → ${later.bar.length}`);
  assert.match(waterfallSummary(s, layoutWaterfall(s, 100, T + 8000)), /^running 8\.0s/);
});

test('a bounded waterfall keeps running and critical steps before the latest', () => {
  const w = layoutWaterfall(state(twoStages(false)), 100, T + 4200);
  const shown = waterfallWindow(w.rows, 2).map((r) => r.digest);
  assert.deepEqual(shown, ['deps', 'copy2']);
  assert.equal(waterfallWindow(w.rows, 10).length, w.rows.length);
});

test('Waterfall renders a recorded real build at 80 and 140 columns within the width', () => {
  for (const width of [80, 140]) {
    const s = fixture('sample-build').reduce(reduceBuild, initialBuildState());
    const { lastFrame, unmount } = render(<Waterfall state={s} width={width} />);
    const frame = lastFrame() ?? '';
    unmount();
    for (const line of frame.split('\n')) assert.ok([...line].length <= width, `${width}: ${line}`);
    assert.match(frame, /#8 +RUN \.\/build\.sh +┃ +█+ +│ +1\.2s/);
    assert.match(frame, /#4 +FROM docker\.io\/lib.*▏.*CACHED/);
    assert.match(frame, / 0s +1\.7s$/m);
    assert.match(frame, /^took 1\.7s · critical path/m);
  }
});

test('Waterfall marks the critical path in the text too (┃), so NO_COLOR keeps it', () => {
  const { lastFrame, unmount } = render(
    <ColorMode color={false}>
      <Waterfall state={state(twoStages(true))} width={80} />
    </ColorMode>,
  );
  const frame = lastFrame() ?? '';
  unmount();
  assert.match(frame, /RUN make deps +┃/);
  assert.match(frame, /RUN make assets +│/);
});
