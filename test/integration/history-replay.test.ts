// `depot history`: builds recorded by a real builder (real dockerd/BuildKit) are listed, and any of
// them replayed as the live build showed it — plain, json, and in a real terminal (tmux).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseEventLines } from '../../src/progress/json.js';
import {
  BUILDER_ENGINE,
  type BuilderProcess,
  buildOn,
  depot,
  NO_TMUX,
  skipReason,
  startBuilder,
  tempDir,
  terminalCommand,
  tmuxServer,
  until,
} from './harness.js';

const skip = skipReason();

/** Two stages: `base` copies and builds, the final stage copies its result and reads it. */
const dockerfile = (nonce: string) =>
  [
    'FROM busybox:latest AS base',
    'WORKDIR /app',
    'COPY src/ ./src/',
    `RUN cat src/a.txt > /out.txt && echo "built ${nonce}"`,
    '',
    'FROM busybox:latest',
    'COPY --from=base /out.txt /out.txt',
    'RUN wc -c /out.txt && echo done',
    '',
  ].join('\n');

interface Listed {
  id: string;
  project: string;
  platform: string;
  builder: string;
  result: string;
  steps: number;
  cachedSteps: number;
  durationMs: number | null;
  dockerfilePath: string;
  target: string;
  error: string;
  trace: { bytes: number; cut: boolean } | null;
}

/**
 * The lines of plain progress that tell a build's steps: headers, cache states, causes, logs and
 * finish lines of every vertex (`#0` lines are the client's own sync; status lines carry the
 * receiver's clock).
 */
function stepLines(plain: string): string[] {
  return plain
    .split('\n')
    .filter((l) => /^#[1-9]\d* (\[[^\]]+\] .*|CACHED|MISS: .*|DONE [\d.]+s|ERROR: .*|\d+\.\d+ .*)$/.test(l));
}

describe('depot history on a real builder: list the builds, replay any of them', { skip }, () => {
  let builder: BuilderProcess;
  let token = '';
  const project = `hist-${process.pid}`;
  const ctx = tempDir('history-replay');
  const nonce = `${process.pid}-${Date.now()}`;
  const live: { id: string; plain: string }[] = [];
  const term = tmuxServer('depot-history');
  const on = () => ['--builder', builder.url, '--token', token, '--project', project];

  /** One `depot build --progress plain` of the context; its id (from the history) and its output. */
  async function build(expectOk = true): Promise<{ id: string; plain: string }> {
    const r = await depot([...buildOn(builder.url, token, project, 'plain'), ctx]);
    assert.equal(r.code === 0, expectOk, r.stderr);
    const ls = await depot(['history', 'ls', '--json', '--limit', '1', ...on()]);
    assert.equal(ls.code, 0, ls.stderr);
    const [latest] = (JSON.parse(ls.stdout) as { builds: Listed[] }).builds;
    const got = { id: latest!.id, plain: r.stderr };
    live.push(got);
    return got;
  }

  before(async () => {
    builder = await startBuilder();
    token = builder.token(project, 'ann');
    mkdirSync(join(ctx, 'src'));
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile(nonce));
    // Contents no earlier run had: the engine's cache (shared with earlier runs) answers no step.
    writeFileSync(join(ctx, 'src', 'a.txt'), `one ${nonce}\n`);
    await build();
    writeFileSync(join(ctx, 'src', 'a.txt'), `two ${nonce}, longer\n`);
    await build();
  });
  after(async () => {
    term.kill();
    await builder?.stop();
  });

  test('history ls --json lists both builds, newest first, with what a table needs', async () => {
    const r = await depot(['history', 'ls', '--json', ...on()]);
    assert.equal(r.code, 0, r.stderr);
    const { builds, more } = JSON.parse(r.stdout) as { builds: Listed[]; more: boolean };
    assert.equal(more, false);
    assert.deepEqual(
      builds.map((b) => b.id),
      [live[1]!.id, live[0]!.id],
    );
    const builderId = /#0 building on (\S+)/.exec(live[1]!.plain)?.[1];
    for (const b of builds) {
      assert.equal(b.project, project);
      assert.equal(b.result, 'ok');
      assert.equal(b.builder, builderId);
      assert.equal(b.dockerfilePath, 'Dockerfile');
      assert.equal(b.target, '');
      assert.equal(b.steps, 6, 'one FROM vertex for both stages, WORKDIR, COPY, RUN, COPY --from, RUN');
      assert.ok((b.durationMs ?? 0) > 0);
      assert.ok(b.trace && b.trace.bytes > 0 && !b.trace.cut, JSON.stringify(b.trace));
    }
    // The edit: the COPY and everything after it ran again; the FROM and WORKDIR were hits.
    assert.equal(builds[0]!.cachedSteps, 2);
    const table = await depot(['history', ...on()]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID +STARTED +DURATION +PLATFORM +TARGET +RESULT +CACHED +SAVED +BUILDER$/);
    assert.match(lines[1]!, new RegExp(`^${live[1]!.id.slice(0, 12)} .* ok +2/6 .* ${builderId}$`));
    assert.equal(lines.length, 3, table.stdout);
  });

  test('history show --progress plain replays the steps, cache states, causes and logs the live build printed', async () => {
    for (const b of live) {
      const r = await depot(['history', 'show', b.id.slice(0, 8), '--progress', 'plain', ...on()]);
      assert.equal(r.code, 0, r.stderr);
      const replayed = stepLines(r.stdout);
      assert.ok(replayed.length > 10, r.stdout);
      assert.deepEqual(replayed, stepLines(b.plain));
      assert.match(r.stdout, /^steps: 6 total, \d cached · /m);
    }
    const second = stepLines(live[1]!.plain).join('\n');
    // What the comparison covered: the root cause once, the steps after it pointing at it, the log.
    assert.match(second, /^#\d+ MISS: src\/a\.txt changed under COPY src\/ \.\/src\/$/m);
    assert.match(second, /^#\d+ MISS: because #\d+ \(COPY src\/ \.\/src\/\)$/m);
    assert.match(second, new RegExp(`^#\\d+ \\d+\\.\\d+ built ${nonce}$`, 'm'));
  });

  test('history show --progress json: the events a live --progress json build prints', async () => {
    const r = await depot(['history', 'show', live[1]!.id, '--progress', 'json', ...on()]);
    assert.equal(r.code, 0, r.stderr);
    const events = parseEventLines(r.stdout);
    const types = new Set(events.map((e) => e.type));
    for (const t of ['build/started', 'build/defined', 'vertex/updated', 'log/appended', 'step/explained'])
      assert.ok(types.has(t as never), t);
    const defined = events.find((e) => e.type === 'build/defined');
    assert.equal(defined?.type === 'build/defined' && defined.dockerfile, dockerfile(nonce));
    const finished = events.at(-1);
    assert.equal(finished?.type === 'build/finished' && finished.ok, true);
  });

  test("a failed build replays its error; a bad id, or another project's build, is one line and exit 1", async () => {
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox:latest\nRUN echo "failing ${nonce}" && exit 3\n`);
    const failed = await build(false);
    const r = await depot(['history', 'show', failed.id, '--progress', 'plain', ...on()]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(stepLines(r.stdout), stepLines(failed.plain));
    assert.match(r.stdout, /^ERROR: /m);
    const ls = await depot(['history', 'ls', '--result', 'failed', '--json', ...on()]);
    const [listed] = (JSON.parse(ls.stdout) as { builds: Listed[] }).builds;
    assert.equal(listed?.id, failed.id);
    assert.match(listed?.error ?? '', /exit code: 3|returned a non-zero code: 3/);

    const missing = await depot(['history', 'show', 'no-such-build', ...on()]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
    assert.match(missing.stderr, /^depot: no build no-such-build in the history of project /);
    const other = builder.token(`other-${process.pid}`);
    const foreign = await depot(['history', 'show', failed.id, '--builder', builder.url, '--token', other]);
    assert.equal(foreign.code, 1);
    const unused = randomUUID();
    assert.equal(
      foreign.stderr.replace(failed.id, 'ID'),
      (await depot(['history', 'show', unused, '--builder', builder.url, '--token', other])).stderr.replace(
        unused,
        'ID',
      ),
      'the same answer as for an id nobody used',
    );
    const none = await depot(['history', 'ls', '--json', '--builder', builder.url, '--token', other]);
    assert.deepEqual(JSON.parse(none.stdout), { builds: [], more: false });
  });

  test('history show in a real terminal: the graph, details on enter, the waterfall, q prints the view and exits', {
    skip: NO_TMUX,
  }, async () => {
    const id = live[1]!.id;
    term.start(
      'show',
      100,
      32,
      `${terminalCommand(['history', 'show', id.slice(0, 10), ...on()])}; echo "EXIT=$?"; sleep 600`,
    );
    const graph = await until(
      'the replayed graph',
      () => {
        const p = term.pane('show');
        return /┌ base · FROM busybox:latest/.test(p) && /q quit/.test(p) && p;
      },
      30_000,
    );
    assert.match(graph, new RegExp(`✔ build ${id.slice(0, 12)} · ok · linux/amd64`));
    assert.match(graph, /COPY src\/ \.\/src\/ .*⟳ src\/a\.txt changed/);
    assert.match(graph, /RUN cat src\/a\.txt .*because #\d+/);
    assert.match(graph, /┌ stage-1 · FROM busybox:latest ← base/);
    assert.match(graph, /steps 6 · cached 2/);
    for (const l of graph.split('\n')) assert.ok([...l].length <= 100, l);
    // ↓ from nothing selected: the first step; four more: the RUN of base.
    term.keys('show', 'Down', 'Down', 'Down', 'Down');
    await until('the RUN selected', () => /●›#\d+ +└ RUN cat src/.test(term.pane('show')), 10_000);
    term.keys('show', 'Enter');
    const details = await until(
      'the details of the RUN',
      () => {
        const p = term.pane('show');
        return /enter closes/.test(p) && p;
      },
      10_000,
    );
    // The cascade names its root once, with the root's cause; then the cache key and the log.
    assert.match(details, /cause +because #\d+ COPY src\/ \.\/src\/ · ⟳ src\/a\.txt changed/);
    assert.match(details, /key +sha256:[0-9a-f]{4}…[0-9a-f]{4} · miss/);
    if (process.env.DEPOT_CAPTURE) console.log(`CAPTURE\n${details}\nEND`);
    assert.match(details, new RegExp(`built ${nonce}`));
    term.keys('show', 'w');
    await until('the waterfall', () => /critical path/.test(term.pane('show')), 10_000);
    term.keys('show', 'q');
    const after = await until(
      'the view printed after q',
      () => {
        const p = term.pane('show');
        return /EXIT=\d+/.test(p) && p;
      },
      10_000,
    );
    assert.match(after, /EXIT=0/);
    assert.match(after, /┌ base · FROM busybox:latest/);
    assert.match(after, /took [\d.]+s · critical path/);
    assert.doesNotMatch(after, /q quit/, 'the interactive screen is gone');
  });

  test('a builder keeping small traces cuts the oldest log first, and the replay says so', async () => {
    const small = await startBuilder({ args: ['--history-trace-max', '8KiB'] });
    try {
      const t = small.token(project);
      const noisy = tempDir('history-cut');
      // ~200 kB of output gzip cannot shrink much below 8 KiB, then one last line.
      writeFileSync(
        join(noisy, 'Dockerfile'),
        `FROM busybox:latest\nRUN head -c 60000 /dev/urandom | od -x && echo "last line ${nonce}"\n`,
      );
      const b = await depot([...buildOn(small.url, t, project, 'plain'), noisy]);
      assert.equal(b.code, 0, b.stderr);
      const on = ['--builder', small.url, '--token', t, '--project', project];
      const ls = await depot(['history', 'ls', '--json', ...on]);
      const [listed] = (JSON.parse(ls.stdout) as { builds: Listed[] }).builds;
      assert.equal(listed?.trace?.cut, true, ls.stdout);
      assert.ok((listed?.trace?.bytes ?? 0) <= 8 * 1024, ls.stdout);
      const table = await depot(['history', ...on]);
      assert.match(table.stdout, / ok\* /);
      const r = await depot(['history', 'show', listed!.id, '--progress', 'plain', ...on]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /^depot: note: the stored trace of this build was cut to 8\.192kB: [\d.]+k?B of step logs/m,
      );
      assert.match(
        r.stdout,
        /^#\d+ \d+\.\d+ \[depot: [\d.]+ KiB of this step's log left out of the stored trace\]$/m,
      );
      assert.match(r.stdout, new RegExp(`^#\\d+ \\d+\\.\\d+ last line ${nonce}$`, 'm'));
      // Everything but the log is whole: the same steps and finish lines as the live build.
      const noLogs = (plain: string) => stepLines(plain).filter((l) => !/^#\d+ \d+\.\d+ /.test(l));
      assert.deepEqual(noLogs(r.stdout), noLogs(b.stderr));
    } finally {
      await small.stop();
    }
  });

  test("without a builder, depot history reads the embedded builder: this machine's own builds", async () => {
    const own = tempDir('history-embedded');
    writeFileSync(join(own, 'Dockerfile'), `FROM busybox:latest\nRUN echo "embedded ${nonce}"\n`);
    // The embedded builder builds in the engine of DOCKER_HOST, which has the base image.
    const env = { DOCKER_HOST: BUILDER_ENGINE };
    const b = await depot(['build', '--progress', 'plain', own], env);
    assert.equal(b.code, 0, b.stderr);
    const r = await depot(['history', 'ls', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const { builds } = JSON.parse(r.stdout) as { builds: Listed[] };
    assert.ok(builds.length >= 1);
    const show = await depot(['history', 'show', builds[0]!.id, '--progress', 'plain'], env);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`embedded ${nonce}`));
  });
});
