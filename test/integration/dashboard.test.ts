import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILDER_BIN,
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

describe('depot dashboard in a real terminal', { skip }, () => {
  let builder: BuilderProcess;
  const term = tmuxServer('depot-dash');

  before(async () => {
    builder = await startBuilder();
  });
  after(async () => {
    term.kill();
    await builder?.stop();
  });

  test('shows the history and updates live when a new build finishes', async () => {
    const project = `dash-${process.pid}`;
    const token = builder.token(project, 'ann');
    const r = spawnSync(
      process.execPath,
      [BUILDER_BIN, 'token', 'create', '--admin', '--user', 'lead', '--data', builder.dataDir],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const admin = r.stdout.trim();
    const ctx = tempDir('dash');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt\n');
    writeFileSync(join(ctx, 'a.txt'), `one ${Date.now()}\n`);
    const build = async () => {
      const b = await depot([...buildOn(builder.url, token, project, 'quiet'), ctx]);
      assert.equal(b.code, 0, b.stderr);
    };
    await build();

    term.start(
      'dash',
      100,
      30,
      terminalCommand(['dashboard', '--builder', builder.url, '--token', admin, '--window', '1h']),
    );
    const pane = () => term.pane('dash');
    const buildsShown = (p: string) => Number(/(\d+) builds? ·/.exec(p)?.[1] ?? -1);
    const first = await until(
      'the dashboard with one build',
      () => {
        const p = pane();
        return buildsShown(p) === 1 && p.includes(project) && p;
      },
      30_000,
    );
    for (const line of first.split('\n')) assert.ok(line.length <= 100, line);
    // The build finished before the dashboard opened: it is listed from the builder's history.
    assert.doesNotMatch(first, /none recently/);
    assert.match(first, new RegExp(`✔ ${project}\\s+ann `));

    // Without a terminal (a pipe) it prints the stats table, like `depot stats`, and exits 0.
    const piped = await depot(['dashboard', '--builder', builder.url, '--token', admin, '--window', '1h']);
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /window 1h/);
    assert.match(piped.stdout, new RegExp(project));

    writeFileSync(join(ctx, 'a.txt'), `two ${Date.now()}\n`);
    await build();
    await until('the dashboard updated to two builds', () => buildsShown(pane()) === 2, 15_000);

    term.keys('dash', 'q');
    await until('the dashboard exits on q', () => term.gone('dash'), 10_000);
  });
});
