import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import type { DevCommand, DevEvent, DevState } from '../dev/types.js';
import { DevView } from './DevView.js';
import {
  BUILDER_URL,
  connectedEvents,
  devStateOf,
  finishedBuildEvents,
  longBuildEvents,
  runningActions,
  T,
} from './dev-fixtures.js';
import { cellWidth } from './text.js';

const SIZES = [
  [80, 24],
  [120, 40],
] as const;

function frameOf(state: DevState): string[] {
  const r = render(<DevView state={state} onCommand={() => {}} />);
  const frame = stripVTControlCharacters(r.lastFrame() ?? '');
  r.unmount();
  return frame.split('\n');
}

function assertFits(lines: string[], width: number, height: number, name: string): void {
  for (const line of lines)
    assert.ok(cellWidth(line) <= width, `${name}: wider than ${width}: ${JSON.stringify(line)}`);
  assert.ok(lines.length <= height, `${name}: ${lines.length} lines on a ${height}-row screen`);
}

const at = (ms: number) => T + ms;

const manyBuilds = (): DevEvent[] => {
  const out: DevEvent[] = [...connectedEvents()];
  for (let i = 1; i <= 30; i++)
    out.push(
      ...finishedBuildEvents(i, at(i * 10_000), i % 7 === 0 ? 'failed' : i % 5 === 0 ? 'cancelled' : 'ok'),
    );
  out.push(
    {
      type: 'container/started',
      timeMs: at(400_000),
      id: 'abc123def4567890',
      name: 'depot-dev-app',
      imageId: 'x',
    },
    {
      type: 'container/logged',
      timeMs: at(400_001),
      lines: ['listening on :3000', 'GET / 200 3ms', 'GET /favicon.ico 404 1ms', 'GET /api 200 12ms'],
    },
  );
  return out;
};

/** Every screen the tests look at, by name, as actions for the reducer. */
const SCENARIOS: Record<string, () => (DevEvent | DevCommand)[]> = {
  connecting: () => [{ type: 'session/connecting', timeMs: T, url: BUILDER_URL }],
  running: runningActions,
  reconnecting: () => [
    ...runningActions(),
    {
      type: 'session/reconnecting',
      timeMs: at(12_000),
      attempt: 3,
      retryAtMs: at(14_000),
      error: 'connect ECONNREFUSED 10.0.0.5:7443\nat TCPConnectWrap',
    },
  ],
  paused: () => [
    ...connectedEvents(),
    ...finishedBuildEvents(1, at(1000), 'ok'),
    { type: 'watch/paused', timeMs: at(5000) },
  ],
  polling: () => [
    ...connectedEvents(),
    {
      type: 'watch/failed',
      timeMs: at(300),
      polling: true,
      message: 'inotify limit reached (fs.inotify.max_user_watches)',
    },
  ],
  failed: () => [...connectedEvents(), ...finishedBuildEvents(1, at(1000), 'failed')],
  scrollback: manyBuilds,
  help: () => [...runningActions(), { type: 'help/toggled' }],
  logs: () => [...runningActions(), { type: 'logs/toggled' }],
  waterfall: () => [...runningActions(), { type: 'waterfall/toggled' }],
  'long waterfall': () => [
    ...connectedEvents(),
    ...longBuildEvents('long', at(1000), 40, 25),
    { type: 'waterfall/toggled' },
  ],
  long: () => [...connectedEvents(), ...longBuildEvents('long', at(1000), 40, 25)],
  'long selected': () => [
    ...connectedEvents(),
    ...longBuildEvents('long', at(1000), 40, 25),
    { type: 'step/moved', delta: 1 },
  ],
};

const stateOf = (name: string, width: number, height: number) =>
  devStateOf(SCENARIOS[name]?.() ?? [], width, height);

for (const [width, height] of SIZES) {
  test(`every screen fits ${width}×${height}`, () => {
    for (const name of Object.keys(SCENARIOS))
      assertFits(frameOf(stateOf(name, width, height)), width, height, name);
  });
}

test('every screen fits small and odd terminals too', () => {
  for (const [width, height] of [
    [40, 10],
    [60, 15],
    [50, 6],
    [30, 4],
    [200, 60],
  ] as const)
    for (const name of Object.keys(SCENARIOS))
      assertFits(frameOf(stateOf(name, width, height)), width, height, `${name} at ${width}×${height}`);
});

test('connecting: the url, a connecting mark and no build yet', () => {
  const lines = frameOf(stateOf('connecting', 80, 24));
  assert.match(lines[0] ?? '', /^depot dev · ◌ connecting · tcp:\/\/builder\.internal:7443$/);
  assert.ok(lines.some((l) => /no build yet · waiting for the builder/.test(l)));
  assert.equal(
    lines.at(-1),
    'r rebuild · ↑↓ select · enter details · w waterfall · p pause · q quit · ? help',
  );
});

for (const [width, height] of SIZES) {
  test(`running at ${width}×${height}: header, trigger, rebuilt-because marks, pending, scrollback`, () => {
    const lines = frameOf(stateOf('running', width, height));
    const text = lines.join('\n');
    assert.match(lines[0] ?? '', /^depot dev · ● connected 3ms · bld-7f3a9c \(linux\/amd64\)/);
    assert.match(text, /watching · 2 changes, quiet in 120ms · snapshot 79c6d613 \(812 entries, 11s ago\)/);
    assert.match(
      text,
      /build #2 · change: src\/app\.js, src\/lib\.js \(\+3\) +steps 5\/7 · cached 4 · 1\.5s/,
    );
    assert.ok(lines.includes('… next build: waiting for the quiet period · 2 files'), text);
    const copy = lines.find((l) => l.includes('COPY src ./src')) ?? '';
    assert.match(copy, /← src\/app\.js \+2 0\.1s$/, 'the COPY that re-ran says which changes hit it');
    assert.equal(cellWidth(copy), width, 'a marked row keeps the full width');
    assert.doesNotMatch(
      lines.find((l) => l.includes('RUN npm ci')) ?? '',
      /←/,
      'cached steps are not marked',
    );
    assert.match(lines.find((l) => l.includes('RUN npm run build')) ?? '', /^. #10 .* 0\.5s$/);
    assert.ok(
      lines.some((l) =>
        /^\d\d:\d\d:\d\d ✔ #1 7 steps, 4 cached · 1\.2s · synced 1\.1kB · loaded 12kB/.test(l),
      ),
    );
    assert.equal(lines.length, height - 1, 'the screen is filled, the last row left for the cursor');
  });
}

test('reconnecting: the attempt and the first line of the error', () => {
  const lines = frameOf(stateOf('reconnecting', 120, 40));
  assert.match(lines[0] ?? '', /↻ reconnecting \(attempt 3\) — connect ECONNREFUSED 10\.0\.0\.5:7443 · tcp:/);
  assert.doesNotMatch(lines.join('\n'), /TCPConnectWrap/);
});

test('paused and polling watchers say so; the footer offers resume', () => {
  const paused = frameOf(stateOf('paused', 80, 24));
  assert.match(paused[1] ?? '', /^paused · snapshot /);
  assert.match(paused.at(-1) ?? '', /p resume/);
  const polling = frameOf(stateOf('polling', 120, 40));
  assert.match(polling.join('\n'), /polling \(inotify limit reached/);
});

test('a failed build: the failed step, its last log lines and the error in the scrollback', () => {
  const lines = frameOf(stateOf('failed', 80, 24));
  const at11 = lines.findIndex((l) => /^✖ #11 .*RUN npm test/.test(l));
  assert.ok(at11 >= 0, lines.join('\n'));
  assert.equal(lines[at11 + 3], '    │ test 3 failed: expected 2, got 3');
  assert.match(lines.join('\n'), /✖ build #1 · change: src\/app\.js/);
  assert.ok(
    lines.some((l) => /^\d\d:\d\d:\d\d ✖ #1 failed: process "\/bin\/sh -c npm test" did not/.test(l)),
  );
  assert.doesNotMatch(lines.join('\n'), /more detail/, 'only the first line of the error');
});

test('a long scrollback shows the latest builds that fit, oldest first, and the container', () => {
  const lines = frameOf(stateOf('scrollback', 80, 24));
  const seqs = lines.map((l) => /^\d\d:\d\d:\d\d . #(\d+) /.exec(l)?.[1]).filter((s) => s !== undefined);
  assert.ok(seqs.length >= 3, lines.join('\n'));
  assert.deepEqual(
    seqs.map(Number),
    Array.from({ length: seqs.length }, (_, i) => 31 - seqs.length + i),
  );
  assert.ok(lines.some((l) => /⊘ #30 cancelled: newer change/.test(l)));
  assert.ok(lines.some((l) => /✖ #28 failed: /.test(l)));
  assert.ok(lines.includes('● container depot-dev-app running (abc123def456)'));
  assert.deepEqual(
    lines.filter((l) => l.startsWith('  │ ')),
    ['  │ GET / 200 3ms', '  │ GET /favicon.ico 404 1ms', '  │ GET /api 200 12ms'],
  );
  // The cancelled build's running step is not left spinning.
  assert.match(lines.find((l) => l.includes('COPY src ./src')) ?? '', /^- #9 .*CANCELED$/);
});

test('the help overlay lists the keys in place of graph and scrollback', () => {
  const lines = frameOf(stateOf('help', 80, 24));
  const text = lines.join('\n');
  assert.match(text, /╭─ keys ─+╮/);
  for (const what of ['rebuild now', 'select a step', 'pause / resume watching', 'quit', 'close this help'])
    assert.match(text, new RegExp(what));
  assert.doesNotMatch(text, /RUN npm run build|✔ #1 12 steps/);
});

test('enter shows the focused step’s details and logs in place of the scrollback', () => {
  const lines = frameOf(stateOf('logs', 80, 24));
  const title = lines.findIndex((l) => /^. step #10 · 6\/7 · running \d+\.\ds +enter closes$/.test(l));
  assert.ok(title >= 0, lines.join('\n'));
  assert.deepEqual(lines.slice(title + 1, title + 7), [
    '  command  RUN npm run build',
    '  key      sha256:step09 · miss',
    '  layer    known when the build ends',
    '  logs     2 lines',
    '  │ > app@1.0.0 build',
    '  │ > tsc -p .',
  ]);
  assert.doesNotMatch(lines.join('\n'), /✔ #1 12 steps/);
  assert.match(lines.at(-1) ?? '', /enter builds/);
});

test('w shows the build as a waterfall: bars on one axis, the running one, what it took so far', () => {
  for (const [width, height] of SIZES) {
    const lines = frameOf(stateOf('waterfall', width, height));
    const text = lines.join('\n');
    assert.match(text, /#10 RUN npm run build +[│┃] *[█▒]+/, text);
    assert.match(text, /^running \d+\.\ds/m);
    assert.match(text, / 0s +\d+\.\ds$/m);
    assert.match(lines.at(-1) ?? '', /w graph/);
    // A build longer than the screen keeps the running step and the axis on it.
    const long = frameOf(stateOf('long waterfall', width, height)).join('\n');
    assert.match(long, /#26 .*RUN \.\/step-26\.sh +[│┃] *[█▒]/, long);
    assert.match(long, /… \d+ more steps?$/m);
  }
});

test('a build taller than the screen shows the window around the running step', () => {
  const lines = frameOf(stateOf('long', 80, 24));
  const running = lines.findIndex((l) => /#26 .*RUN \.\/step-26\.sh/.test(l));
  assert.ok(running >= 0, lines.join('\n'));
  assert.match(lines[running + 1] ?? '', /#27 /, 'the next steps show under the running one');
  assert.match(lines[running + 2] ?? '', /#28 /);
  assert.ok(lines.some((l) => /^ {2}↑ \d+ earlier steps$/.test(l)));
  assert.ok(lines.includes('  ↓ 12 more steps waiting'));
  // Selecting the first step moves the window to the top.
  const top = frameOf(stateOf('long selected', 80, 24));
  assert.ok(
    top.some((l) => /^●›#1 /.test(l)),
    'the selected row carries the marker',
  );
  assert.ok(!top.some((l) => /↑ \d+ earlier/.test(l)));
  assert.ok(top.some((l) => /^ {2}↓ \d+ more steps below$/.test(l)));
});

test('without ui sizes the view follows the terminal and its resizes', async () => {
  const state = devStateOf(runningActions(), 0, 0);
  const r = render(<DevView state={state} onCommand={() => {}} />);
  const lines = () => stripVTControlCharacters(r.lastFrame() ?? '').split('\n');
  // ink-testing-library's stdout is 100 columns and has no rows: 24 are assumed.
  assertFits(lines(), 100, 24, 'initial');
  assert.ok(lines().some((l) => cellWidth(l) === 100));
  Object.defineProperty(r.stdout, 'columns', { value: 60, configurable: true });
  Object.defineProperty(r.stdout, 'rows', { value: 12, configurable: true });
  r.stdout.emit('resize');
  await waitFor(() => lines().length <= 12);
  assertFits(lines(), 60, 12, 'resized');
  r.unmount();
});

async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('keys dispatch commands and nothing else', async () => {
  const commands: DevCommand[] = [];
  let state = devStateOf(runningActions(), 80, 24);
  const r = render(<DevView state={state} onCommand={(c) => commands.push(c)} />);
  const press = async (input: string, expected: DevCommand | undefined) => {
    const before = commands.length;
    r.stdin.write(input);
    if (expected) {
      await waitFor(() => commands.length > before);
      assert.deepEqual(commands.at(-1), expected, JSON.stringify(input));
    } else {
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(commands.length, before, `${JSON.stringify(input)} is not a key`);
    }
  };
  await press('r', { type: 'rebuild/requested' });
  await press('\u001B[A', { type: 'step/moved', delta: -1 });
  await press('\u001B[B', { type: 'step/moved', delta: 1 });
  await press('k', { type: 'step/moved', delta: -1 });
  await press('\r', { type: 'logs/toggled' });
  await press('p', { type: 'watch/toggled' });
  await press('?', { type: 'help/toggled' });
  await press('q', { type: 'quit/requested' });
  await press('\u0003', { type: 'quit/requested' });
  await press('x', undefined);
  // Escape closes the help when it is open.
  state = { ...state, ui: { ...state.ui, showHelp: true } };
  r.rerender(<DevView state={state} onCommand={(c) => commands.push(c)} />);
  await press('\u001B', { type: 'help/toggled' });
  r.unmount();
});

test('the selected step is marked on its whole row: a › marker and inverse video', () => {
  const state = devStateOf([...runningActions(), { type: 'step/moved', delta: -1 }], 100, 30);
  const r = render(<DevView state={state} onCommand={() => {}} />);
  const raw = (r.lastFrame() ?? '').split('\n');
  r.unmount();
  const plain = raw.map((l) => stripVTControlCharacters(l));
  const marked = plain.filter((l) => /^.›#\d+ /.test(l));
  assert.equal(marked.length, 1, plain.join('\n'));
  const i = plain.indexOf(marked[0] ?? '');
  // Without colours the marker alone tells (NO_COLOR); with them the rest of the row is inverse.
  assert.ok(!plain.some((l, j) => j !== i && l.includes('›')));
  const line = raw[i] ?? '';
  if (line !== plain[i]) {
    const inverseAt = line.indexOf('\u001b[7m');
    assert.ok(inverseAt >= 0, JSON.stringify(line));
    assert.ok(
      line.lastIndexOf('\u001b[27m') >
        line.indexOf(state.current!.build.steps[state.ui.selectedStep]!.instruction),
    );
  }
});

test('a failed container shows its whole error, wrapped; the starting line names the new container', () => {
  const error =
    'docker run failed: Error response from daemon: driver failed programming external connectivity on endpoint ' +
    'hopeful_pike (4c1f): Bind for 0.0.0.0:18080 failed: port is already allocated';
  const state = devStateOf(
    [...runningActions(), { type: 'container/failed', timeMs: T + 12_000, error }],
    80,
    24,
  );
  const lines = frameOf(state);
  assertFits(lines, 80, 24, 'container failed');
  const joined = lines.join(' ').replace(/\s+/g, ' ');
  assert.ok(joined.includes('port is already allocated'), lines.join('\n'));

  const starting = frameOf(
    devStateOf(
      [
        ...runningActions(),
        {
          type: 'container/started',
          timeMs: T + 12_000,
          id: 'c1c1c1c1c1c1c1c1',
          name: 'old-one',
          imageId: 'sha256:a',
        },
        { type: 'container/starting', timeMs: T + 13_000, imageId: 'sha256:b0b0b0b0b0b0b0b0' },
      ],
      100,
      30,
    ),
  );
  const line = starting.find((l) => l.includes('container')) ?? '';
  assert.match(line, /new container starting from b0b0b0b0b0b0… · replacing old-one/);
  assert.ok(!/old-one starting/.test(line));
});

test('a bad ignore file shows its error on the screen, wrapped to fit', () => {
  const error =
    '/work/app/.dockerignore line 3: bad pattern "[": unterminated character class (fix or remove the line)';
  const state = devStateOf(
    [...runningActions(), { type: 'ignore/failed', timeMs: T + 12_000, error }],
    60,
    24,
  );
  const lines = frameOf(state);
  assertFits(lines, 60, 24, 'ignore error');
  const joined = lines.join(' ').replace(/\s+/g, ' ');
  assert.ok(
    joined.includes('line 3: bad pattern "[": unterminated character class (fix or remove the line)'),
    lines.join('\n'),
  );
  const fixed = frameOf(
    devStateOf(
      [
        ...runningActions(),
        { type: 'ignore/failed', timeMs: T + 12_000, error },
        { type: 'ignore/fixed', timeMs: T + 12_500 },
      ],
      60,
      24,
    ),
  );
  assert.ok(!fixed.join(' ').includes('bad pattern'));
});
