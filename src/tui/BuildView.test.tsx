import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import cliSpinners from 'cli-spinners';
import { render } from 'ink-testing-library';
import {
  type BuildEvent,
  type BuildState,
  initialBuildState,
  parseEventLines,
  reduceBuild,
} from '../progress/index.js';
import { BuildView } from './BuildView.js';
import { layoutLanes } from './lane-layout.js';
import { cellWidth } from './text.js';

const fixture = (name: string): BuildEvent[] =>
  parseEventLines(readFileSync(new URL(`../progress/fixtures/${name}.jsonl`, import.meta.url), 'utf8'));
const reduceAll = (events: BuildEvent[]): BuildState => events.reduce(reduceBuild, initialBuildState());

function frameOf(state: BuildState, width = 80): string[] {
  const r = render(<BuildView state={state} width={width} />);
  const frame = stripVTControlCharacters(r.lastFrame() ?? '');
  r.unmount();
  return frame.split('\n');
}

function assertFits(lines: string[], width: number): void {
  for (const line of lines)
    assert.ok(cellWidth(line) <= width, `wider than ${width}: ${JSON.stringify(line)}`);
}

test('the recorded build renders its stages as lanes, CACHED marks and the summary at 80 columns', () => {
  const state = reduceAll(fixture('sample-build'));
  const lines = frameOf(state);
  assertFits(lines, 80);
  assert.match(lines[0] ?? '', /^✔ synced context: 3 files changed \(3 unique contents, 1\.234kB sent\)$/);
  // BuildKit's own vertices fold into one line before the stages and one after.
  assert.match(
    lines[1] ?? '',
    /^✔ {7}internal · Dockerfile 245B · context 1\.234kB · busybox:latest +0\.2s$/,
  );
  const rows = lines.filter((l) => /^. #\d+ /.test(l));
  // Each stage starts with its FROM (one vertex for both stages: the same image), then its steps.
  assert.deepEqual(
    rows.map((r) => /#(\d+)/.exec(r)?.[1]),
    ['4', '6', '7', '8', '4', '9', '10'],
  );
  for (const row of rows) {
    const step = state.steps.find((s) => row.includes(`#${s.number} `))!;
    assert.equal(row.trimEnd().endsWith('CACHED'), step.cached, row);
    assert.equal(cellWidth(row), 80, 'rows are laid out to the full width');
  }
  assert.match(
    rows[0] ?? '',
    /^✔ #4 {2}┌ build · FROM docker\.io\/library\/busybox:latest → stage-1 +CACHED$/,
  );
  assert.match(rows[3] ?? '', /^● #8 {2}└ RUN \.\/build\.sh +1\.2s$/);
  assert.match(rows[4] ?? '', /┌ stage-1 · FROM .* ← build +CACHED$/);
  assert.match(rows[5] ?? '', /│ COPY --from=build \/out\/hello \/app\/hello ← build +CACHED$/);
  assert.ok(
    lines.some((l) => /^✔ {7}export · exporting to image +0\.1s$/.test(l)),
    lines.join('\n'),
  );
  assert.ok(lines.includes('steps 6 · cached 4 · 1.7s · synced 1.234kB · loaded 12.8kB of 5.398MB'));
  assert.ok(lines.some((l) => /^✔ image sha256:[0-9a-f]{12} \(app:dev\) · 1\/3 layers sent$/.test(l)));
});

test('a failed step shows its last 10 log lines and the error', () => {
  const state = reduceAll(fixture('failed-build'));
  const lines = frameOf(state);
  assertFits(lines, 80);
  const at = lines.findIndex((l) => /^✖ #9 .*RUN \.\/test\.sh/.test(l));
  assert.ok(at >= 0, lines.join('\n'));
  const logs = lines.slice(at + 1, at + 11);
  assert.ok(
    logs.every((l) => l.startsWith('    │ ')),
    logs.join('\n'),
  );
  assert.match(logs[0] ?? '', /parse_test\.go:12/);
  assert.equal(logs[9], '    │ exit status 1');
  assert.match(lines[at + 11] ?? '', /^· #10 +└ COPY --from=docs/);
  assert.match(lines.find((l) => l.startsWith('- #6 ')) ?? '', /CANCELED$/);
  assert.ok(lines.includes('✖ process "/bin/sh -c ./test.sh" did not complete successfully: exit code: 1'));
});

test('while running: a spinner frame, byte progress, waiting rows and a live count', () => {
  const T = 1_750_000_000_000;
  const events: BuildEvent[] = [
    { type: 'build/started', timeMs: T, builderId: 'b', platform: 'linux/amd64', buildId: 'x' },
    {
      type: 'vertex/updated',
      timeMs: T,
      vertex: {
        digest: 'a',
        name: '[1/2] FROM docker.io/library/busybox',
        inputs: [],
        cached: false,
        startedMs: T,
        completedMs: 0,
        error: '',
      },
    },
    {
      type: 'status/updated',
      timeMs: T + 1500,
      status: {
        id: 'sha256:l1',
        vertex: 'a',
        name: '',
        current: 12_300_000,
        total: 45_600_000,
        startedMs: T,
        completedMs: 0,
      },
    },
    ...Array.from(
      { length: 6 },
      (_, i): BuildEvent => ({
        type: 'vertex/updated',
        timeMs: T + 1500,
        vertex: {
          digest: `w${i}`,
          name: `[2/2] RUN step ${i}`,
          inputs: ['a'],
          cached: false,
          startedMs: 0,
          completedMs: 0,
          error: '',
        },
      }),
    ),
  ];
  const lines = frameOf(reduceAll(events));
  assertFits(lines, 80);
  const row = lines.find((l) => l.includes('#1 ')) ?? '';
  assert.ok(cliSpinners.dots.frames.includes(row[0] ?? ''), row);
  assert.match(row, /12\.3MB\/45\.6MB 1\.5s$/);
  assert.equal(lines.filter((l) => /^· #\d+ /.test(l)).length, 3);
  assert.ok(
    lines.some((l) => /^· {5}└ … 3 more steps waiting *$/.test(l)),
    lines.join('\n'),
  );
  assert.ok(lines.includes('steps 0/7 · cached 0 · 1.5s'));
});

test('no line is wider than a narrow terminal', () => {
  for (const name of ['sample-build', 'failed-build']) {
    for (const width of [40, 60]) assertFits(frameOf(reduceAll(fixture(name)), width), width);
  }
});

test('rendering event by event prints every settled part once, in order', () => {
  const events = fixture('graph-edit');
  let state = initialBuildState();
  const r = render(<BuildView state={state} width={80} />);
  let staticSeen = false;
  for (const e of events) {
    state = reduceBuild(state, e);
    r.rerender(<BuildView state={state} width={80} />);
    // Finished stages go to <Static> while later ones still run.
    if (state.result === null && /┌ deps/.test(stripVTControlCharacters(r.frames.join(''))))
      staticSeen = true;
  }
  const lines = stripVTControlCharacters(r.lastFrame() ?? '').split('\n');
  r.unmount();
  assert.ok(staticSeen, 'a settled lane was printed before the build ended');
  const numbers = lines.map((l) => /^. (#\d+) /.exec(l)?.[1]).filter((n) => n !== undefined);
  const expected = layoutLanes(state, { width: 80, nowMs: state.nowMs, frame: '' })
    .map(
      (l) =>
        /^(#\d+)/.exec(
          l.segments
            .slice(2)
            .map((s) => s.text)
            .join(''),
        )?.[1],
    )
    .filter((n) => n !== undefined);
  assert.deepEqual(numbers, expected);
  assert.match(lines[0] ?? '', /^✔ synced context/);
});

test('a sync or load under way shows a progress bar with counts, rate and ETA above the summary', () => {
  const T = 1_750_000_000_000;
  let s = initialBuildState();
  s = reduceBuild(s, {
    type: 'build/started',
    timeMs: T,
    builderId: 'b1',
    platform: 'linux/amd64',
    buildId: 'x',
  });
  s = reduceBuild(s, { type: 'sync/started', timeMs: T, entries: 20_001 });
  s = reduceBuild(s, {
    type: 'sync/progress',
    timeMs: T + 5000,
    phase: 'uploading',
    files: 5000,
    filesTotal: 20_000,
    bytes: 50_000_000,
    bytesTotal: 200_000_000,
    bytesPerSecond: 10_000_000,
    etaMs: 15_000,
  });
  const lines = frameOf(s, 100);
  assertFits(lines, 100);
  const bar = lines.find((l) => l.startsWith('uploading '));
  assert.ok(bar, lines.join('\n'));
  assert.match(bar, /^uploading █{6}░{18} 25% 5000\/20000 files · 50MB\/200MB · 10MB\/s · ETA 15s$/);
  // Narrow: the bar gives way to the numbers.
  assertFits(frameOf(s, 40), 40);
  s = reduceBuild(s, {
    type: 'sync/acked',
    timeMs: T + 20_000,
    snapshotId: 'sha256:s',
    bytesSent: 200_000_000,
    blobsSent: 19_000,
    filesChanged: 20_000,
    entries: 20_001,
    totalBytes: 200_000_000,
  });
  const after = frameOf(s, 100);
  assert.ok(!after.some((l) => l.startsWith('uploading ')));
  assert.match(after[0] ?? '', /synced context: 20000 files changed \(19000 unique contents, 200MB sent\)$/);
  s = reduceBuild(s, {
    type: 'build/finished',
    timeMs: T + 21_000,
    ok: true,
    imageId: 'sha256:ab',
    error: '',
    errorCode: '',
  });
  s = reduceBuild(s, { type: 'load/started', timeMs: T + 21_000 });
  s = reduceBuild(s, {
    type: 'load/progress',
    timeMs: T + 22_000,
    bytes: 30_000_000,
    bytesTotal: 0,
    bytesPerSecond: 30_000_000,
    etaMs: -1,
  });
  const loading = frameOf(s, 100).find((l) => l.startsWith('loading '));
  assert.equal(loading, 'loading ░░░░░░░░░░░░░░░░░░░░░░░░ 30MB · 30MB/s');
});

test('builder notes show before the summary as plain information; a nothing-sent load says so once', () => {
  const T = 1_750_000_000_000;
  let s = initialBuildState();
  s = reduceBuild(s, {
    type: 'build/started',
    timeMs: T,
    builderId: 'b1',
    platform: 'linux/amd64',
    buildId: 'x',
  });
  s = reduceBuild(s, {
    type: 'message/logged',
    timeMs: T,
    text: 'context: 5B in 1 file sent to the engine',
    info: true,
  });
  s = reduceBuild(s, {
    type: 'build/finished',
    timeMs: T + 1,
    ok: true,
    imageId: 'sha256:ab',
    error: '',
    errorCode: '',
  });
  s = reduceBuild(s, { type: 'load/started', timeMs: T + 1 });
  s = reduceBuild(s, {
    type: 'load/finished',
    timeMs: T + 2,
    bytes: 0,
    imageSize: 100,
    layersSent: 0,
    layersTotal: 2,
    note: '',
    tags: ['app:1'],
  });
  const lines = frameOf(s, 80);
  const note = lines.indexOf('context: 5B in 1 file sent to the engine');
  const summary = lines.findIndex((l) => l.startsWith('steps '));
  assert.ok(note >= 0 && note < summary, lines.join('\n'));
  assert.ok(!lines.some((l) => l.startsWith('!')), lines.join('\n'));
  const image = lines.filter((l) => l.includes('already in the local engine'));
  assert.deepEqual(image, ['✔ image sha256:ab (app:1) · already in the local engine']);
  assert.ok(!lines.some((l) => l.startsWith('note:')));
});
