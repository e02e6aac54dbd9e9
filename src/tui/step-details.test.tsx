import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { Box } from 'ink';
import { render } from 'ink-testing-library';
import { type BuildEvent, type BuildState, initialBuildState, reduceBuild } from '../progress/index.js';
import { layoutLanes } from './lane-layout.js';
import { ColorMode, SegmentLine, segmentsText } from './segments.js';
import { MAX_LISTED_PATHS, stepDetailsLines } from './step-details.js';
import { cellWidth } from './text.js';

const T = 1_750_000_000_000;
const RUN = `sha256:${'3f1a'.padEnd(60, '0')}9c2e`;
const COPY = `sha256:${'c0'.repeat(32)}`;
const COMMAND =
  'RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund && npm run build -- --define VERSION=1.2.3 --minify --sourcemap=external && node scripts/check-bundle.mjs dist/app.js';
/** 30 files changed; the builder lists 10 and counts the rest. */
const PATHS = Array.from(
  { length: 30 },
  (_, i) => `src/components/file-${String(i + 1).padStart(2, '0')}.tsx`,
);

const vertex = (digest: string, name: string, inputs: string[], extra: Partial<BuildEvent> = {}) =>
  ({
    type: 'vertex/updated',
    timeMs: T + 3000,
    vertex: { digest, name, inputs, cached: false, startedMs: T + 1000, completedMs: T + 3000, error: '' },
    ...extra,
  }) as BuildEvent;

function buildState(opts: { finished?: boolean; layer?: boolean } = {}): BuildState {
  const events: BuildEvent[] = [
    { type: 'build/started', timeMs: T, builderId: 'b', platform: 'linux/amd64', buildId: 'x' },
    vertex(COPY, '[build 2/3] COPY src/ ./src', []),
    vertex(RUN, `[build 3/3] ${COMMAND}`, [COPY]),
    {
      type: 'step/explained',
      timeMs: T + 3000,
      vertex: COPY,
      cause: {
        kind: 'changed_files',
        text: `${PATHS[0]} and 29 more changed under COPY src/ ./src`,
        paths: PATHS.slice(0, 10),
        morePaths: 20,
        name: '',
        line: 0,
        digest: '',
      },
    },
    {
      type: 'step/explained',
      timeMs: T + 3000,
      vertex: RUN,
      cause: {
        kind: 'changed_files',
        text: `follows from COPY src/ ./src: ${PATHS[0]} and 29 more changed`,
        paths: PATHS.slice(0, 10),
        morePaths: 20,
        name: '',
        line: 0,
        digest: '',
        rootVertex: COPY,
      },
    },
    ...Array.from(
      { length: 40 },
      (_, i): BuildEvent => ({
        type: 'log/appended',
        timeMs: T + 2000 + i,
        vertex: RUN,
        stream: i % 10 === 9 ? 2 : 1,
        data: `build output line ${i + 1}\n`,
      }),
    ),
  ];
  if (opts.layer) events.push({ type: 'step/layer', timeMs: T + 3100, vertex: RUN, bytes: 12_345_678 });
  if (opts.finished)
    events.push({
      type: 'build/finished',
      timeMs: T + 3200,
      ok: true,
      imageId: 'sha256:img',
      error: '',
      errorCode: '',
    });
  return events.reduce(reduceBuild, initialBuildState());
}

const text = (lines: ReturnType<typeof stepDetailsLines>) => lines.map(segmentsText);
const runStep = (s: BuildState) => s.steps.find((x) => x.digest === RUN)!;

for (const width of [80, 140]) {
  test(`details at ${width} columns: the whole command wrapped, the cause with files and a count, key, layer, logs`, () => {
    const state = buildState({ finished: true, layer: true });
    const lines = text(stepDetailsLines(state, runStep(state), { width, rows: 30, nowMs: T + 4000 }));
    for (const l of lines) assert.ok(cellWidth(l) <= width, `wider than ${width}: ${JSON.stringify(l)}`);
    assert.match(lines[0] ?? '', /^● step #2 · build 3\/3 · ran 2\.0s$/);
    // The command: every word of it, over as many lines as the width needs.
    const commandLines = lines.slice(
      lines.findIndex((l) => l.startsWith('  command  ')),
      lines.findIndex((l) => l.startsWith('  cause  ')),
    );
    assert.ok(commandLines.length >= (width === 80 ? 3 : 2), commandLines.join('\n'));
    assert.equal(commandLines.map((l) => l.slice(11).trim()).join(' '), COMMAND);
    // The cascade names its root and lists the root's files: the first few, then how many more.
    const cause = lines.findIndex((l) => l.startsWith('  cause    because #1 COPY src/ ./src · ⟳ '));
    assert.ok(cause > 0, lines.join('\n'));
    assert.deepEqual(
      lines.slice(cause + 1, cause + 1 + MAX_LISTED_PATHS).map((l) => l.trim()),
      PATHS.slice(0, MAX_LISTED_PATHS),
    );
    assert.equal(lines[cause + 1 + MAX_LISTED_PATHS]?.trim(), `… and ${30 - MAX_LISTED_PATHS} more`);
    assert.ok(lines.includes('  key      sha256:3f1a…9c2e · miss'), lines.join('\n'));
    assert.ok(lines.includes('  layer    12.35MB'));
    // The logs get what is left, the newest lines last.
    const logs = lines.findIndex((l) => l.startsWith('  logs     last '));
    assert.ok(logs > 0);
    assert.match(lines[logs] ?? '', /^ {2}logs {5}last (\d+) of 40 lines$/);
    assert.equal(lines.at(-1), '  │ build output line 40');
    assert.equal(lines.length, 30);
  });
}

test('details never use more rows than given; the logs and the file list give way first', () => {
  const state = buildState({ finished: true, layer: true });
  for (const rows of [1, 3, 6, 9, 12, 20]) {
    const lines = text(stepDetailsLines(state, runStep(state), { width: 80, rows, nowMs: T + 4000 }));
    assert.ok(lines.length <= rows, `${lines.length} lines in ${rows} rows`);
    assert.match(lines[0] ?? '', /step #2/);
    if (rows >= 6) {
      // Title, command, cause, key, layer and the logs' heading before any file or log line.
      for (const label of ['command', 'cause', 'key', 'layer', 'logs'])
        assert.ok(
          lines.some((l) => l.startsWith(`  ${label} `)),
          `${label} at ${rows} rows`,
        );
    }
    // A list that is cut still says how many files it left out.
    const more = lines.find((l) => /… and \d+ more/.test(l));
    const listed = lines.filter((l) => /^ {11}src\/components\//.test(l)).length;
    if (listed > 0) assert.equal(more?.trim(), `… and ${30 - listed} more`);
  }
});

test('a running step: its duration so far, the key, and its layer still to come', () => {
  const state = buildState();
  const running = reduceBuild(
    state,
    vertex(RUN, `[build 3/3] ${COMMAND}`, [COPY], {
      vertex: {
        digest: RUN,
        name: `[build 3/3] ${COMMAND}`,
        inputs: [COPY],
        cached: false,
        startedMs: T + 1000,
        completedMs: 0,
        error: '',
      },
    } as Partial<BuildEvent>),
  );
  const lines = text(stepDetailsLines(running, runStep(running), { width: 80, rows: 12, nowMs: T + 4500 }));
  assert.match(lines[0] ?? '', /^· step #2 · build 3\/3 · running 3\.5s$/);
  assert.ok(lines.includes('  layer    known when the build ends'));
});

test('NO_COLOR: the same words and marks, without a colour', () => {
  const state = buildState({ finished: true, layer: true });
  const draw = (color: boolean) => {
    const r = render(
      <ColorMode color={color}>
        <Box flexDirection="column">
          {stepDetailsLines(state, runStep(state), {
            width: 80,
            rows: 16,
            nowMs: state.nowMs,
            hint: 'enter closes',
          }).map((segments, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: lines are positional
            <SegmentLine key={i} segments={segments} />
          ))}
        </Box>
      </ColorMode>,
    );
    const frame = r.lastFrame() ?? '';
    r.unmount();
    return frame;
  };
  const colour = /\u001b\[(3[0-7]|9[0-7])m/;
  const mono = draw(false);
  assert.doesNotMatch(mono, colour);
  const plain = stripVTControlCharacters(mono);
  for (const mark of [
    '● step #2',
    'enter closes',
    'because #1',
    '⟳ ',
    '· miss',
    '12.35MB',
    '│ build output line 40',
  ])
    assert.ok(plain.includes(mark), `${mark} without colours:\n${plain}`);
  const coloured = draw(true);
  if (colour.test(coloured)) assert.equal(stripVTControlCharacters(coloured), plain);
});

test('the graph row shows the size of a step’s layer where the row has room for it', () => {
  const state = buildState({ finished: true, layer: true });
  const rowOf = (width: number, s: BuildState = state) =>
    layoutLanes(s, { width, nowMs: T + 4000, frame: '' })
      .map((l) => segmentsText(l.segments))
      .find((l) => l.includes('#2 ')) ?? '';
  // Wide: the size sits before the duration.
  assert.match(rowOf(240), /RUN --mount=type=cache.*12\.35MB 2\.0s$/);
  // 80 columns: the long command keeps the room.
  assert.doesNotMatch(rowOf(80), /12\.35MB/);
  assert.equal(cellWidth(rowOf(80)), 80);
  // A short instruction leaves room at 80 columns too.
  const short = reduceBuild(state, vertex(RUN, '[build 3/3] RUN make', [COPY]));
  assert.match(rowOf(80, short), /RUN make .*12\.35MB 2\.0s$/);
  // An empty layer shows nothing.
  const empty = reduceBuild(short, { type: 'step/layer', timeMs: T + 3300, vertex: RUN, bytes: 0 });
  assert.doesNotMatch(rowOf(80, empty), /0B/);
  assert.equal(empty.steps.find((s) => s.digest === RUN)?.layerBytes, 0);
});

test('step/layer: kept on the step; ignored for a vertex never seen', () => {
  const state = buildState();
  assert.equal(runStep(state).layerBytes, null);
  const told = reduceBuild(state, { type: 'step/layer', timeMs: T, vertex: RUN, bytes: 42 });
  assert.equal(runStep(told).layerBytes, 42);
  const unknown = reduceBuild(state, { type: 'step/layer', timeMs: T, vertex: 'sha256:nope', bytes: 42 });
  assert.deepEqual(unknown.steps, state.steps);
});
