/**
 * `depot history show`'s screen, from builds recorded on a real builder (the fixtures of
 * LayerGraph.test.tsx: a four-stage Dockerfile, a one-file edit and a failed step): it fits any
 * terminal, the keys of `depot dev` move the selection through the graph, and the details of the
 * selected step say what it ran, why it missed (the root of a cascade once) and the end of its log.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import {
  type BuildState,
  findStep,
  initialBuildState,
  parseEventLines,
  reduceBuild,
} from '../progress/index.js';
import { ReplayView } from './ReplayView.js';
import {
  applyReplayCommand,
  INITIAL_REPLAY_UI,
  layoutReplayScreen,
  REPLAY_KEY_HINT,
  type ReplayTitle,
  type ReplayUi,
  replayOrder,
} from './replay-layout.js';
import { segmentsText } from './segments.js';
import { cellWidth } from './text.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const stateOf = (name: string): BuildState =>
  parseEventLines(
    readFileSync(join(HERE, '..', 'progress', 'fixtures', `graph-${name}.jsonl`), 'utf8'),
  ).reduce(reduceBuild, initialBuildState());

const titleOf = (s: BuildState, result: string): ReplayTitle => ({
  buildId: s.buildId,
  result,
  platform: s.platform,
  target: '',
  builder: s.builderId,
  startedMs: s.startedMs,
  finishedMs: s.finishedMs,
});

const screen = (s: BuildState, ui: ReplayUi, width: number, rows: number, result = 'ok') =>
  layoutReplayScreen(s, ui, { width, rows, title: titleOf(s, result), nowMs: s.finishedMs + 3 * 60_000 }).map(
    segmentsText,
  );

/** The ui after pressing ↓ `n` times from nothing selected. */
function down(s: BuildState, n: number, ui: ReplayUi = INITIAL_REPLAY_UI): ReplayUi {
  let out = ui;
  for (let i = 0; i < n; i++) {
    const next = applyReplayCommand(out, { type: 'step/moved', delta: 1 }, s);
    assert.notEqual(next, 'quit');
    out = next as ReplayUi;
  }
  return out;
}

test('the screen fits 80×24 and 140×40: header, graph, summary and keys, nothing wider', () => {
  for (const name of ['edit', 'failed', 'cold'])
    for (const [w, h] of [
      [80, 24],
      [140, 40],
      [40, 10],
    ] as const) {
      const s = stateOf(name);
      for (const ui of [
        INITIAL_REPLAY_UI,
        { ...down(s, 3), details: true },
        { ...INITIAL_REPLAY_UI, waterfall: true },
      ]) {
        const lines = screen(s, ui, w, h, name === 'failed' ? 'failed' : 'ok');
        assert.equal(lines.length, h, `${name} ${w}×${h}`);
        for (const l of lines) assert.ok(cellWidth(l) <= w, `${name} ${w}: ${l}`);
        assert.match(lines[0]!, new RegExp(`build ${s.buildId.slice(0, 12)}`));
        assert.equal(lines.at(-1), w >= REPLAY_KEY_HINT.length ? REPLAY_KEY_HINT : lines.at(-1));
      }
    }
  const edit = screen(stateOf('edit'), INITIAL_REPLAY_UI, 80, 24);
  assert.match(edit[0]!, /^✔ build 811508ac-ef5 · ok · linux\/amd64 · on bld-414319fa1b94 +3m ago · 4\.9s$/);
  assert.ok(
    edit.some((l) => /┌ build · FROM deps → stage-3/.test(l)),
    edit.join('\n'),
  );
  assert.ok(
    edit.some((l) => /COPY src\/ \/src\/ .*⟳ src\/main\.txt changed/.test(l)),
    edit.join('\n'),
  );
  assert.match(edit.at(-2)!, /^steps 12 · cached 7 · /);
});

test('↓/↑ walk the steps in the graph order, clamped at both ends; i lists BuildKit steps and keeps the walk', () => {
  const s = stateOf('edit');
  const order = replayOrder(s, INITIAL_REPLAY_UI);
  assert.ok(order.length >= 12 && order.every((i) => i >= 0), JSON.stringify(order));
  assert.equal(down(s, 1).selected, order[0]);
  assert.equal(down(s, 4).selected, order[3]);
  assert.equal(down(s, 100).selected, order.at(-1));
  const up = applyReplayCommand(down(s, 2), { type: 'step/moved', delta: -5 }, s) as ReplayUi;
  assert.equal(up.selected, order[0]);
  // Unfolding BuildKit's own steps keeps the selection; folding them again drops one of theirs.
  const unfolded = applyReplayCommand(down(s, 2), { type: 'internal/toggled' }, s) as ReplayUi;
  assert.equal(unfolded.selected, order[1]);
  const internal = replayOrder(s, unfolded).find((i) => !order.includes(i))!;
  const folded = applyReplayCommand({ ...unfolded, selected: internal }, { type: 'internal/toggled' }, s);
  assert.deepEqual(folded, { ...unfolded, selected: -1, internal: false });
  assert.equal(applyReplayCommand(INITIAL_REPLAY_UI, { type: 'quit/requested' }, s), 'quit');
  assert.equal(applyReplayCommand(INITIAL_REPLAY_UI, { type: 'rebuild/requested' }, s), INITIAL_REPLAY_UI);
  const selectedLine = screen(s, down(s, 4), 140, 40).find((l) => l.includes('›'));
  assert.match(selectedLine ?? '', /›#8 /, 'the fourth step of deps');
});

test("details: a cascade names its root once, a root miss its changed files, a failed step its error and log's end", () => {
  const s = stateOf('edit');
  const order = replayOrder(s, INITIAL_REPLAY_UI);
  const select = (instr: RegExp): ReplayUi => {
    const at = order.find((i) => instr.test(s.steps[i]!.instruction));
    assert.ok(at !== undefined, String(instr));
    return { ...INITIAL_REPLAY_UI, selected: at, details: true };
  };
  const cascade = screen(s, select(/^COPY config\.txt/), 140, 40);
  const root = findStep(s, s.steps.find((x) => /^COPY src\//.test(x.instruction))!.digest)!;
  assert.ok(
    cascade.some((l) => /^● step #16 · stage-3 4\/4 · ran .* enter closes$/.test(l)),
    cascade.join('\n'),
  );
  // The cascade names its root once, with the root's own cause and the files it saw change.
  assert.ok(
    cascade.includes(`  cause    because #${root.number} COPY src/ /src/ · ⟳ src/main.txt changed`),
    cascade.join('\n'),
  );
  assert.ok(cascade.includes('           src/main.txt'), cascade.join('\n'));
  assert.ok(
    cascade.some((l) => /^ {2}key {6}sha256:[0-9a-f]{4}…[0-9a-f]{4} · miss$/.test(l)),
    cascade.join('\n'),
  );
  const own = screen(s, select(/^COPY src\//), 140, 40);
  assert.ok(own.includes('  cause    ⟳ src/main.txt changed under COPY src/ /src/'), own.join('\n'));
  assert.ok(!own.some((l) => /^ {2}cause {4}because #/.test(l)), own.join('\n'));

  const f = stateOf('failed');
  const failed = f.steps.findIndex((x) => x.error !== '' && x.logs.length > 0);
  const lines = screen(f, { ...INITIAL_REPLAY_UI, selected: failed, details: true }, 80, 24, 'failed');
  const text = lines.join('\n');
  assert.match(text, /^ {2}error {4}executor failed running/m);
  assert.ok(lines.includes('  │ error: /src/main.txt says broken'), text);
  assert.match(lines.at(-3)!, /^✖ executor failed running/);
  // On a short screen the graph keeps a few rows, and the details their first line of each fact.
  const short = screen(f, { ...INITIAL_REPLAY_UI, selected: failed, details: true }, 80, 12, 'failed');
  assert.equal(short.length, 12);
  assert.ok(short.filter((l) => /[│┌└] /.test(l)).length >= 2, short.join('\n'));
  assert.match(short.join('\n'), /^ {2}error {4}executor failed running/m);
});

test('ReplayView: keys move and open the details, q quits (once the reader asks)', async () => {
  const s = stateOf('edit');
  let quits = 0;
  const r = render(
    <ReplayView state={s} title={titleOf(s, 'ok')} onQuit={() => quits++} nowMs={s.finishedMs} />,
  );
  const frame = () => stripVTControlCharacters(r.lastFrame() ?? '');
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 100 && !ok(); i++) await new Promise((res) => setTimeout(res, 10));
    assert.ok(ok(), `${what}:\n${frame()}`);
  };
  assert.match(frame(), /┌ deps · FROM busybox → build/);
  for (let i = 0; i < 4; i++) r.stdin.write('\u001B[B');
  await until('the fourth step selected', () => /›#8 /.test(frame()));
  r.stdin.write('\r');
  await until('its details', () => /enter closes/.test(frame()));
  assert.match(frame(), /deps mx60xsxm/, 'its log');
  r.stdin.write('w');
  await until('the waterfall', () => /critical path/.test(frame()));
  r.stdin.write('r');
  r.stdin.write('q');
  await until('quit', () => quits === 1);
  r.unmount();
});
