/**
 * `depot build --progress tty` in a real terminal (tmux) against a real builder: the layer graph
 * and, under it, the waterfall whose running bar grows while a `RUN sleep` runs, then the build's
 * time and critical path.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
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

const skip = skipReason() ?? NO_TMUX;

describe('depot build in a real terminal', { skip }, () => {
  let builder: BuilderProcess;
  const term = tmuxServer('depot-tty');

  before(async () => {
    builder = await startBuilder();
  });
  after(async () => {
    term.kill();
    await builder?.stop();
  });

  test('the waterfall moves while a RUN sleep runs, then says what the build took', async () => {
    const project = `tty-${process.pid}`;
    const ctx = tempDir('tty');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM busybox\nCOPY a.txt /a.txt\nRUN sleep 5 && cat /a.txt\n`);
    writeFileSync(join(ctx, 'a.txt'), `tty ${Date.now()}\n`);
    const args = buildOn(builder.url, builder.token(project), project).map((a) =>
      a === 'plain' ? 'tty' : a,
    );
    term.start('tty', 100, 40, `${terminalCommand([...args, ctx])}; echo EXIT=$?; sleep 60`);
    const pane = () => term.pane('tty');
    // The waterfall row of the RUN step: `#N RUN sleep 5 … │   ▒▒▒⠋ │  1.2s`.
    const barOf = (p: string) => {
      const row = p.split('\n').find((l) => /RUN sleep 5/.test(l) && /[│┃] *[▒█]/.test(l));
      return row ? (row.match(/[▒█]/g) ?? []).length : -1;
    };
    const first = await until(
      'the running bar',
      () => {
        const p = pane();
        return barOf(p) > 0 && !/EXIT=/.test(p) && p;
      },
      60_000,
    );
    const firstBar = barOf(first);
    // Later in the same sleep the bar is longer (the axis grows with the build, the bar with it).
    const later = await until(
      'the bar grew',
      () => {
        const p = pane();
        return !/EXIT=/.test(p) && barOf(p) > firstBar && p;
      },
      15_000,
    );
    assert.match(later, /^running \d+\.\ds/m);
    const done = await until('the build ends', () => /EXIT=\d/.test(pane()) && pane(), 60_000);
    assert.match(done, /EXIT=0/);
    assert.match(done, /^took \d+\.\ds · critical path \d+\.\ds \(\d+ steps?\)/m);
    assert.match(done, /RUN sleep 5 .*[│┃] *█+ *│ +\d+\.\ds/);
    for (const line of done.split('\n')) assert.ok(line.length <= 100, line);
  });

  test('a rebuild is told, step by step, what the cache saved (step/saved from the project history)', async () => {
    const project = `saved-${process.pid}`;
    const ctx = tempDir('saved');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM busybox\nRUN sleep 2 && echo ${Date.now()} > /t\nCOPY f.txt /f\n`,
    );
    writeFileSync(join(ctx, 'f.txt'), 'one\n');
    const build = async () => {
      const r = await depot([...buildOn(builder.url, builder.token(project), project, 'json'), ctx]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map(
          (l) =>
            JSON.parse(l) as {
              type: string;
              vertex?: string | { digest: string; name: string };
              coldMs?: number;
            },
        );
    };
    const cold = await build();
    assert.equal(cold.filter((e) => e.type === 'step/saved').length, 0, 'a first build saves nothing');
    writeFileSync(join(ctx, 'f.txt'), 'two\n');
    const again = await build();
    const run = again.find(
      (e) => e.type === 'vertex/updated' && typeof e.vertex === 'object' && /RUN sleep 2/.test(e.vertex.name),
    )?.vertex as { digest: string };
    const saved = again.find((e) => e.type === 'step/saved' && e.vertex === run.digest);
    assert.ok(saved, 'the cached RUN is told its cold duration');
    assert.ok((saved.coldMs ?? 0) >= 2000 && (saved.coldMs ?? 0) < 60_000, `coldMs ${saved.coldMs}`);
    // Another project building the very same steps (the engine's cache answers them) is told nothing of it.
    const other = `saved-other-${process.pid}`;
    const r = await depot([...buildOn(builder.url, builder.token(other), other, 'json'), ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /"step\/saved"/);
  });
});
