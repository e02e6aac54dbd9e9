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

  test('shows the history, updates live, the time a cached rebuild saved, and busters by root cause', async () => {
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
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY a.txt /a.txt\nRUN sleep 1 && cat /a.txt\n');
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
    assert.match(first, new RegExp(`✔[ ›]${project}\\s+ann `));

    // Without a terminal (a pipe) it prints the stats table, like `depot stats`, and exits 0.
    const piped = await depot(['dashboard', '--builder', builder.url, '--token', admin, '--window', '1h']);
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, /window 1h/);
    assert.match(piped.stdout, new RegExp(project));

    writeFileSync(join(ctx, 'a.txt'), `two ${Date.now()}\n`);
    await build();
    await until('the dashboard updated to two builds', () => buildsShown(pane()) === 2, 15_000);

    // An identical rebuild: every step a cache hit, saving what the steps took when last built
    // (this project's recorded cold runs: the RUN alone slept a second each time).
    await build();
    const saved = await until(
      'the dashboard shows the cached rebuild and what it saved',
      () => {
        const p = pane();
        return buildsShown(p) === 3 && /✔[ ›]dash-\d+ +ann .*3\/3 cached +ok · saved \d/.test(p) && p;
      },
      15_000,
    );
    const savedMs = (text: string) => {
      const m = /time saved (?:(\d+)m)?(\d+(?:\.\d)?)s/.exec(text);
      return m ? (Number(m[1] ?? 0) * 60 + Number(m[2])) * 1000 : 0;
    };
    assert.ok(savedMs(saved) >= 1000, `time saved of a fully cached rebuild:\n${saved}`);
    const json = await depot([
      'stats',
      '--json',
      '--builder',
      builder.url,
      '--token',
      admin,
      '--window',
      '1h',
    ]);
    assert.equal(json.code, 0, json.stderr);
    const stats = JSON.parse(json.stdout) as {
      totals: { savedMs: number };
      recent: { project: string; steps: number; cachedSteps: number; savedMs: number }[];
    };
    const rebuild = stats.recent.find((b) => b.project === project)!;
    assert.deepEqual([rebuild.steps, rebuild.cachedSteps], [3, 3]);
    assert.ok(rebuild.savedMs >= 1000, JSON.stringify(rebuild));
    assert.ok(stats.totals.savedMs >= rebuild.savedMs);

    // The busters view: the COPY, charged with the RUN its edit invalidated.
    // One key at a time: keys sent together may reach the dashboard as one input.
    term.keys('dash', 'v');
    await until('the projects view', () => /PROJECT +BUILDS/.test(pane()), 10_000);
    term.keys('dash', 'v');
    await until('the users view', () => /USER +BUILDS/.test(pane()), 10_000);
    term.keys('dash', 'v');
    const busters = await until(
      'the busters view',
      () => {
        const p = pane();
        return /invalidated: RUN sleep 1 && cat \/a\.txt \(\d/.test(p) && p;
      },
      10_000,
    );
    assert.match(busters, /\d\.[ ›]COPY a\.txt \/a\.txt +dash-\d+ +2 misses → 1 step rebuilt · cost \d/);
    for (const line of busters.split('\n')) assert.ok(line.length <= 100, line);

    // enter on the buster: the builds of its project where the COPY missed as a root cause (the
    // edit, not the identical rebuild), as `depot history ls` lists them (the admin token names
    // the project); esc back.
    term.keys('dash', 'Enter');
    const list = await until(
      "the buster's project's builds",
      () => {
        const p = pane();
        return (
          p.includes(`recent builds of ${project} where COPY a.txt /a.txt missed`) &&
          (p.match(/ linux\/\w+ +- +ok +\d\/3 /g) ?? []).length === 2 &&
          p
        );
      },
      10_000,
    );
    assert.match(list, / ›[0-9a-f-]{12} +\S+ ago +\S+ +linux\/\w+ +- +ok +1\/3 /);
    assert.doesNotMatch(list, / 3\/3 /);
    term.keys('dash', 'Escape');
    await until('the busters view again', () => pane().includes('top cache busters'), 10_000);

    // The overview: enter on the latest build replays its graph inside the dashboard; esc returns.
    term.keys('dash', 'v');
    await until('the overview', () => pane().includes('hit rate'), 10_000);
    term.keys('dash', 'Enter');
    const replay = await until(
      'the replayed graph',
      () => {
        const p = pane();
        return /build [0-9a-f-]{12} · ok/.test(p) && p.includes('RUN sleep 1 && cat /a.txt') && p;
      },
      15_000,
    );
    assert.match(replay, /esc\/q back/);
    term.keys('dash', 'Escape');
    await until('the dashboard again', () => pane().includes('hit rate'), 10_000);

    // The projects view: enter on the project lists its builds; enter on one replays it.
    term.keys('dash', 'v');
    await until('the projects view', () => /PROJECT +BUILDS/.test(pane()), 10_000);
    term.keys('dash', 'Enter');
    await until("the project's builds", () => pane().includes(`recent builds of ${project}`), 10_000);
    term.keys('dash', 'j');
    await until(
      'the second build selected',
      () => / {2}[0-9a-f-]{12} .*\n ›[0-9a-f-]{12} /.test(pane()),
      10_000,
    );
    term.keys('dash', 'Enter');
    await until('a replay from the list', () => pane().includes('RUN sleep 1 && cat /a.txt'), 15_000);
    term.keys('dash', 'q');
    await until('back to the list', () => pane().includes(`recent builds of ${project}`), 10_000);
    term.keys('dash', 'Escape');
    await until('back to the projects view', () => /PROJECT +BUILDS/.test(pane()), 10_000);

    term.keys('dash', 'q');
    await until('the dashboard exits on q', () => term.gone('dash'), 10_000);
  });
});
