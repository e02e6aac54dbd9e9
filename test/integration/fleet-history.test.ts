import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { StatsResponse__Output } from '../../src/protocol/generated/depot/builder/v1/StatsResponse.js';
import { rpcClient, stats, watchBuilds } from '../security/rpc.js';
import {
  buildOn,
  depot,
  type HistoryFleet,
  NO_TMUX,
  postgresSkipReason,
  skipReason,
  startHistoryFleet,
  tempDir,
  terminalCommand,
  tmuxServer,
  until,
} from './harness.js';

// Two real builders (depot-builder serve on the builder engine) recording into one real PostgreSQL:
// a build on either is in the answers of both, WatchBuilds of one streams the other's builds,
// `depot stats --fleet` and `depot dashboard --fleet` show each build with the builder that ran it,
// and `depot history show` replays a build through the builder that did not run it.

const skip = skipReason() ?? postgresSkipReason() ?? NO_TMUX;

describe('a fleet of two builders sharing one PostgreSQL history', { skip }, () => {
  let fleet: HistoryFleet;
  const project = `fh-${process.pid}`;
  let token = '';
  const ctx = tempDir('fleet-hist');
  const term = tmuxServer('depot-fleet-dash');

  before(async () => {
    fleet = await startHistoryFleet(`fleet-hist-${process.pid}`, ['bld-one', 'bld-two']);
    token = fleet.teamToken(project, 'ann');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY a.txt /a.txt\nRUN cat /a.txt\n');
  });
  after(async () => {
    term.kill();
    await fleet?.stop();
  });

  const buildOnBuilder = async (i: number) => {
    writeFileSync(join(ctx, 'a.txt'), `${i} ${Date.now()}\n`);
    const r = await depot([...buildOn(fleet.builders[i]!.url, token, project, 'quiet'), ctx]);
    assert.equal(r.code, 0, r.stderr);
  };

  test('a build on either builder is in the answers of both, and streamed by the watchers of both', async () => {
    const [one, two] = fleet.builders.map((b) => rpcClient(b.url, token, project));
    const watchOne = await watchBuilds(one!);
    try {
      await buildOnBuilder(0);
      await buildOnBuilder(1);
      // The watcher on bld-one hears of bld-two's build: from the shared history, not its own feed.
      const heard = await until(
        "bld-one's watcher hears bld-two's build end",
        () => watchOne.seen.find((s) => s.builder === 'bld-two' && s.result === 'ok'),
        15_000,
      );
      assert.equal(heard.project, project);
      assert.ok(watchOne.seen.some((s) => s.builder === 'bld-two' && s.result === 'running'));
      assert.ok(watchOne.seen.some((s) => s.builder === 'bld-one' && s.result === 'ok'));

      for (const c of [one!, two!]) {
        const s = await stats(c);
        assert.equal(s.totals?.builds, 2);
        assert.deepEqual(s.recent.map((b) => b.builder).sort(), ['bld-one', 'bld-two']);
      }
    } finally {
      watchOne.cancel();
      one!.close();
      two!.close();
    }

    // The CLI asks the fleet: both builders answer from one history, asked once.
    const fleetArgs = ['--fleet', fleet.fleetSpec, '--token', token, '--project', project, '--window', '1h'];
    const json = await depot(['stats', ...fleetArgs, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const answer = JSON.parse(json.stdout) as StatsResponse__Output;
    assert.equal(answer.totals?.builds, 2);
    assert.deepEqual(answer.recent.map((b) => [b.project, b.user, b.builder, b.result]).sort(), [
      [project, 'ann', 'bld-one', 'ok'],
      [project, 'ann', 'bld-two', 'ok'],
    ]);
    const table = await depot(['stats', ...fleetArgs]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /RECENT BUILDS\n {2}PROJECT +USER +BUILDER +PLATFORM +RESULT\n/);
    assert.match(table.stdout, new RegExp(`\\n {2}${project} +ann +bld-two +linux/\\S+ +ok\\n`));
    assert.match(table.stdout, new RegExp(`\\n {2}${project} +ann +bld-one +linux/\\S+ +ok\\n`));
  });

  test('depot dashboard --fleet shows the builds of both builders with their builder, live', async () => {
    term.start(
      'dash',
      100,
      30,
      terminalCommand([
        'dashboard',
        '--fleet',
        fleet.fleetSpec,
        '--token',
        token,
        '--project',
        project,
        '--window',
        '1h',
      ]),
    );
    const pane = () => term.pane('dash');
    const buildsShown = (p: string) => Number(/(\d+) builds? ·/.exec(p)?.[1] ?? -1);
    const first = await until('the dashboard with both builds', () => {
      const p = pane();
      return buildsShown(p) === 2 && p;
    });
    for (const line of first.split('\n')) assert.ok(line.length <= 100, line);
    // The header names the fleet; at 100 columns its tail (", one history") is cut.
    assert.ok(first.startsWith(`depot dashboard · fleet ${fleet.fleetSpec} · 2 builders`), first);

    assert.match(first, new RegExp(`✔[ ›]${project} +ann +bld-one +linux/`));
    assert.match(first, new RegExp(`✔[ ›]${project} +ann +bld-two +linux/`));

    // A build on the builder the dashboard does not talk to still reaches it, live.
    await buildOnBuilder(1);
    await until('the dashboard updated to three builds', () => buildsShown(pane()) === 3, 20_000);
    const after = pane();
    assert.equal(after.match(new RegExp(`✔[ ›]${project} +ann +bld-two `, 'g'))?.length, 2, after);

    term.keys('dash', 'q');
    await until('the dashboard exits on q', () => term.gone('dash'), 10_000);
  });

  test('a build recorded through bld-one is listed and replayed through bld-two, and through --fleet', async () => {
    // A project of its own: the counts of the tests above stay theirs.
    const replayProject = `${project}-replay`;
    const replayToken = fleet.teamToken(replayProject, 'ann');
    writeFileSync(join(ctx, 'a.txt'), `replayed ${Date.now()}\n`);
    const built = await depot([...buildOn(fleet.builders[0]!.url, replayToken, replayProject, 'plain'), ctx]);
    assert.equal(built.code, 0, built.stderr);
    const on = (i: number) => [
      '--builder',
      fleet.builders[i]!.url,
      '--token',
      replayToken,
      '--project',
      replayProject,
    ];
    const ls = await depot(['history', 'ls', '--json', '--limit', '1', ...on(1)]);
    assert.equal(ls.code, 0, ls.stderr);
    const [latest] = (JSON.parse(ls.stdout) as { builds: { id: string; builder: string }[] }).builds;
    assert.equal(latest?.builder, 'bld-one');
    const steps = (plain: string) =>
      plain
        .split('\n')
        .filter((l) => /^#[1-9]\d* (\[[^\]]+\] .*|CACHED|MISS: .*|DONE [\d.]+s|\d+\.\d+ .*)$/.test(l));
    const replayed = await depot(['history', 'show', latest!.id, '--progress', 'plain', ...on(1)]);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.ok(steps(built.stderr).length > 5, built.stderr);
    assert.deepEqual(steps(replayed.stdout), steps(built.stderr));
    const viaFleet = await depot([
      'history',
      'show',
      latest!.id.slice(0, 8),
      '--progress',
      'plain',
      '--fleet',
      fleet.fleetSpec,
      '--token',
      replayToken,
      '--project',
      replayProject,
    ]);
    assert.equal(viaFleet.code, 0, viaFleet.stderr);
    assert.deepEqual(steps(viaFleet.stdout), steps(built.stderr));
  });
});

describe('a fleet of two builders keeping their own histories', { skip }, () => {
  let fleet: HistoryFleet;
  const project = `fo-${process.pid}`;
  const ctx = tempDir('fleet-own');

  before(async () => {
    fleet = await startHistoryFleet(`fleet-own-${process.pid}`, ['bld-left', 'bld-right'], false);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox:latest\nCOPY a.txt /a.txt\nRUN cat /a.txt\n');
  });
  after(async () => {
    await fleet?.stop();
  });

  test('depot stats --fleet asks each builder and merges: both builds, each with its builder', async () => {
    const token = fleet.teamToken(project, 'cy');
    for (const [i, b] of fleet.builders.entries()) {
      writeFileSync(join(ctx, 'a.txt'), `${i} ${Date.now()}\n`);
      const r = await depot([...buildOn(b.url, token, project, 'quiet'), ctx]);
      assert.equal(r.code, 0, r.stderr);
    }
    // Each builder alone knows only its own build.
    for (const b of fleet.builders) {
      const c = rpcClient(b.url, token, project);
      assert.equal((await stats(c)).totals?.builds, 1);
      c.close();
    }
    const r = await depot([
      'stats',
      '--fleet',
      fleet.fleetSpec,
      '--token',
      token,
      '--project',
      project,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const answer = JSON.parse(r.stdout) as StatsResponse__Output;
    assert.equal(answer.totals?.builds, 2);
    assert.equal(answer.totals?.steps, 6);
    assert.deepEqual(answer.recent.map((b) => b.builder).sort(), ['bld-left', 'bld-right']);
    assert.deepEqual(
      answer.groups.map((g) => [g.key, g.totals?.builds]),
      [[project, 2]],
    );
  });
});
