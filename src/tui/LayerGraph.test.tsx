/**
 * Golden screens of the layer graph from builds recorded on a real builder (a four-stage
 * Dockerfile: deps and assets independent, build `FROM deps`, the final stage reading build and
 * assets; see test/integration/graph-traces.test.ts): `depot build`'s view at 80 and 140 columns
 * and `depot dev`'s screen, for a cold build, an identical rebuild, a one-file edit and a failed
 * step. `UPDATE_GOLDEN=1` rewrites the goldens (review the diff); a missing one is written and fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import type { DevEvent, DevState } from '../dev/types.js';
import {
  type BuildEvent,
  type BuildState,
  initialBuildState,
  parseEventLines,
  reduceBuild,
} from '../progress/index.js';
import { BuildView } from './BuildView.js';
import { DevView } from './DevView.js';
import { connectedEvents, devStateOf } from './dev-fixtures.js';
import { cleanFrame, GOLDENS, golden } from './golden-files.js';
import { cellWidth } from './text.js';

// The dev screen prints times of day.
process.env.TZ = 'UTC';

const HERE = dirname(fileURLToPath(import.meta.url));
const BUILDS = ['cold', 'rebuild', 'edit', 'failed'] as const;

const events = (name: string): BuildEvent[] =>
  parseEventLines(readFileSync(join(HERE, '..', 'progress', 'fixtures', `graph-${name}.jsonl`), 'utf8'));
const reduceAll = (list: BuildEvent[]): BuildState => list.reduce(reduceBuild, initialBuildState());

function buildFrame(state: BuildState, width: number): string {
  const r = render(<BuildView state={state} width={width} />);
  const frame = cleanFrame(r.lastFrame() ?? '');
  r.unmount();
  return frame;
}

function devFrame(state: DevState): string {
  const r = render(<DevView state={state} onCommand={() => {}} />);
  const frame = cleanFrame(r.lastFrame() ?? '');
  r.unmount();
  return frame;
}

function assertFits(frame: string, width: number): void {
  for (const line of frame.split('\n'))
    assert.ok(cellWidth(line) <= width, `wider than ${width}: ${JSON.stringify(line)}`);
}

/** A recorded build as the dev loop sees it: connected, the build started, its events, finished. */
function devState(name: string, width: number, height: number): DevState {
  const list = events(name);
  const first = list[0]?.timeMs ?? 0;
  const last = list[list.length - 1]!;
  const buildId = 'recorded';
  const finished = list.find((e) => e.type === 'build/finished');
  const actions: DevEvent[] = [
    ...connectedEvents(first - 1000),
    { type: 'build/started', timeMs: first, buildId, trigger: { reason: 'change', paths: ['src/main.txt'] } },
    ...list.map((event): DevEvent => ({ type: 'build/progressed', timeMs: event.timeMs, buildId, event })),
    {
      type: 'build/finished',
      timeMs: last.timeMs,
      buildId,
      ok: finished?.type === 'build/finished' && finished.ok,
      imageId: finished?.type === 'build/finished' ? finished.imageId : '',
      error: finished?.type === 'build/finished' ? finished.error : '',
    },
  ];
  return devStateOf(actions, width, height);
}

for (const name of BUILDS)
  for (const width of [80, 140]) {
    test(`depot build's view of the recorded ${name} build at ${width} columns matches its golden`, () => {
      const frame = buildFrame(reduceAll(events(name)), width);
      assertFits(frame, width);
      golden(`build-${name}-${width}`, frame);
    });
  }

test('lanes: deps and assets stand side by side at 140 columns, one under the other at 80', () => {
  const state = reduceAll(events('edit'));
  const wide = buildFrame(state, 140).split('\n');
  const narrow = buildFrame(state, 80).split('\n');
  assert.ok(
    wide.some((l) => /┌ deps · FROM busybox → build .*┌ assets · FROM busybox → stage-3/.test(l)),
    wide.join('\n'),
  );
  const deps = narrow.findIndex((l) => /┌ deps · FROM busybox → build/.test(l));
  const assets = narrow.findIndex((l) => /┌ assets · FROM busybox → stage-3/.test(l));
  assert.ok(deps >= 0 && assets > deps, narrow.join('\n'));
  // The stage built on another says so; the final stage names what it reads, on its steps too.
  assert.ok(narrow.some((l) => /┌ build · FROM deps → stage-3/.test(l)));
  assert.ok(narrow.some((l) => /┌ stage-3 · FROM busybox ← build, assets/.test(l)));
  assert.ok(narrow.some((l) => /│ COPY --from=build \/app\.bin \/app\/app\.bin ← build/.test(l)));
  assert.ok(narrow.some((l) => /│ RUN --mount=from=assets.* ← assets/.test(l)));
});

test('an identical rebuild is all hits: the FROM included, no cause anywhere', () => {
  const frame = buildFrame(reduceAll(events('rebuild')), 80);
  const rows = frame.split('\n').filter((l) => /^. #\d+ /.test(l));
  assert.ok(rows.length >= 12);
  for (const row of rows) assert.match(row, /^✔ #\d+ .* CACHED$/, row);
  assert.doesNotMatch(frame, /⟳|because|evicted/);
});

test('a one-file edit: the root cause once, on the COPY; every miss after it says `because #9`', () => {
  const frame = buildFrame(reduceAll(events('edit')), 80);
  const lines = frame.split('\n');
  assert.equal(frame.match(/⟳/g)?.length, 1, frame);
  assert.ok(
    lines.some((l) => /^● #9 +│ COPY src\/ \/src\/ +⟳ src\/main\.txt changed 0\.0s$/.test(l)),
    frame,
  );
  const after = lines.filter((l) => /because #9 /.test(l));
  assert.deepEqual(
    after.map((l) => /^● (#\d+)/.exec(l)?.[1]),
    ['#10', '#11', '#15', '#16'],
  );
  // The shared FROM is a hit in every stage that builds on it: never a miss, never "evicted".
  for (const l of lines.filter((x) => /FROM busybox/.test(x))) assert.match(l, /^✔ #4 .*CACHED$/);
  assert.doesNotMatch(frame, /evicted/);
});

test('a cold build says "first build" once, in the summary, not on every step', () => {
  const frame = buildFrame(reduceAll(events('cold')), 80);
  assert.equal(frame.match(/first build/g)?.length, 1, frame);
  assert.match(frame, /^steps 12 · cached 1 · ⟳ first build · 10\.8s · synced 687B · loaded 26\.62kB$/m);
  assert.match(
    buildFrame(reduceAll(events('cold')), 140),
    /^steps 12 · cached 1 · ⟳ first build · 10\.8s · synced 687B · loaded 26\.62kB of 1\.984MB$/m,
  );
  // The steps that ran show their times, no cause each.
  for (const l of frame.split('\n').filter((x) => /^● #/.test(x))) assert.match(l, /\d\.\ds$/);
});

test('a failed step: ✖ on the step and its lane, its output under it, the steps never reached waiting', () => {
  const frame = buildFrame(reduceAll(events('failed')), 80);
  const lines = frame.split('\n');
  const at = lines.findIndex((l) => /^✖ #10 +└ RUN cat \/deps\.lock/.test(l));
  assert.ok(at > 0, frame);
  assert.match(lines[at - 2] ?? '', /^✖ {5}┌ build · FROM deps/);
  assert.equal(lines[at + 1], '    │ error: /src/main.txt says broken');
  for (const n of [11, 15, 16])
    assert.ok(
      lines.some((l) => new RegExp(`^· #${n} `).test(l)),
      `#${n} waits`,
    );
  assert.match(frame, /✖ executor failed running [\s\S]*exit code: 3/);
});

test('while deps and assets run at the same time, both spin side by side at 140 columns', () => {
  const list = events('cold');
  let state = initialBuildState();
  let both: BuildState | undefined;
  for (const e of list) {
    state = reduceBuild(state, e);
    const running = state.steps.filter((s) => s.startedMs > 0 && s.completedMs === 0 && !s.cached);
    if (running.some((s) => s.stage === 'deps') && running.some((s) => s.stage === 'assets')) {
      both = state;
      break;
    }
  }
  assert.ok(both, 'the recorded build ran deps and assets at the same time');
  const frame = buildFrame(both, 140);
  assertFits(frame, 140);
  golden('build-cold-running-140', frame);
  assert.ok(
    frame.split('\n').some((l) => /^⠋ #\d+ +│ .*⠋ #\d+ +│ /.test(l)),
    `two running steps on one line:\n${frame}`,
  );
  golden('build-cold-running-80', buildFrame(both, 80));
});

for (const [name, width, height] of [
  ['edit', 80, 24],
  ['edit', 140, 40],
  ['failed', 80, 24],
] as const) {
  test(`depot dev's screen of the recorded ${name} build at ${width}×${height} matches its golden`, () => {
    const frame = devFrame(devState(name, width, height));
    assertFits(frame, width);
    assert.ok(frame.split('\n').length <= height - 1);
    golden(`dev-${name}-${width}x${height}`, frame);
  });
}

test('depot dev: `i` lists BuildKit’s own steps in place of the folded line, and folds them again', () => {
  const folded = devState('edit', 140, 40);
  const unfolded = devStateOf(
    [
      // The same build, then the key.
      ...(() => {
        const list = events('edit');
        const first = list[0]?.timeMs ?? 0;
        return [
          ...connectedEvents(first - 1000),
          { type: 'build/started', timeMs: first, buildId: 'r', trigger: { reason: 'manual', paths: [] } },
          ...list.map(
            (event): DevEvent => ({ type: 'build/progressed', timeMs: event.timeMs, buildId: 'r', event }),
          ),
        ] as DevEvent[];
      })(),
      { type: 'internal/toggled' },
    ],
    140,
    40,
  );
  assert.match(devFrame(folded), /internal · Dockerfile 31B · context 215B · busybox:latest \(i lists\)/);
  const listed = devFrame(unfolded);
  assert.doesNotMatch(listed, /internal · Dockerfile/);
  for (const what of ['load build definition from Dockerfile', 'load .dockerignore', 'load build context'])
    assert.match(listed, new RegExp(`✔ #\\d+ +internal ${what.replace('.', '\\.')}`));
});

test('NO_COLOR: the same glyphs and words, without a colour (a real terminal renderer, colours forced on)', () => {
  const script = `
    import { EventEmitter } from 'node:events';
    import { readFileSync } from 'node:fs';
    import { parseEventLines } from ${JSON.stringify(join(HERE, '..', 'progress', 'index.ts'))};
    import { renderBuildTty } from ${JSON.stringify(join(HERE, 'render-build-tty.tsx'))};
    const out = Object.assign(new EventEmitter(), { columns: 100, rows: 40, isTTY: true, chunks: [],
      write(c) { this.chunks.push(c); return true; } });
    const tty = renderBuildTty({ stdout: out, now: () => 0 });
    for (const e of parseEventLines(readFileSync(${JSON.stringify(join(HERE, '..', 'progress', 'fixtures', 'graph-edit.jsonl'))}, 'utf8'))) tty.handle(e);
    await tty.close();
    process.stdout.write(out.chunks.join(''));
  `;
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, FORCE_COLOR: '1', NO_COLOR: '', ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  // SGR foreground colours: 30–37, 90–97 (bold, dim and inverse are no colours).
  const colour = /\u001b\[(3[0-7]|9[0-7])m/;
  const coloured = run({});
  assert.match(coloured, colour);
  const mono = run({ NO_COLOR: '1' });
  assert.doesNotMatch(mono, colour);
  const text = stripVTControlCharacters(mono);
  for (const mark of ['✔ #4 ', '● #9 ', '⟳ src/main.txt changed', 'because #9', 'CACHED'])
    assert.ok(text.includes(mark), `${mark} without colours:\n${text}`);
  assert.equal(stripVTControlCharacters(coloured), text);
});

test('docs/cli.md shows the lane view as the goldens have it (80 and 140 columns, and while running)', () => {
  const doc = readFileSync(join(HERE, '..', '..', 'docs', 'cli.md'), 'utf8');
  for (const name of ['build-edit-80', 'build-edit-140', 'build-cold-running-140']) {
    const shot = readFileSync(join(GOLDENS, `${name}.txt`), 'utf8');
    assert.ok(doc.includes(`\`\`\`\n${shot}\`\`\``), `docs/cli.md lacks goldens/${name}.txt: copy it over`);
  }
});
