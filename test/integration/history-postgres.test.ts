import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { type History, openHistory } from '../../builder-host/src/history/history.js';
import {
  FOLLOWER_NAME,
  openPostgresHistory,
  PG_MIGRATIONS,
} from '../../builder-host/src/history/postgres.js';
import { type Planned, plan, T0, windowEnds } from '../../builder-host/src/history/seeded-history.js';
import { createTraceRecorder, DEFAULT_TRACE_MAX_BYTES } from '../../builder-host/src/history/trace.js';
import type {
  BuildStart,
  BuildSummary,
  StatsGroupBy,
  StatsQuery,
  StatsWindow,
} from '../../builder-host/src/history/types.js';
import { createDatabase, postgres, postgresSkipReason, psql, tempDir, until } from './harness.js';

// The two history backends against each other, on a real PostgreSQL started for this file: the same
// builds give the same answers, and builders sharing one database keep to their own builds where
// they must (abandoned builds, the previous build a new one is compared with).

const skip = postgresSkipReason();

/** A small trace of a planned build: its steps as vertices, a log line, its result. */
async function traceOf(b: Planned) {
  const t = createTraceRecorder({ maxBytes: DEFAULT_TRACE_MAX_BYTES });
  for (const s of b.steps)
    t.add(
      {
        vertex: {
          digest: s.digest,
          name: s.name,
          inputs: [],
          cached: s.cached,
          startedMs: b.start.startedMs,
          completedMs: b.start.startedMs + s.durationMs,
          error: '',
        },
      },
      b.start.startedMs + s.durationMs,
    );
  t.add(
    {
      log: {
        vertex: b.steps[0]?.digest ?? '',
        stream: 1,
        data: Buffer.from(`${b.start.buildId}\n`),
        timestampMs: 1,
      },
    },
    b.finishedMs,
  );
  t.add({ result: { ok: b.result === 'ok' } }, b.finishedMs);
  return (await t.seal())!;
}
const D = 86_400_000;
/** ListBuilds filters by a root miss of an instruction the seeded builds use, and of none. */
const MISSED_STEPS = [{ missedStep: 'COPY . .' }, { missedStep: 'RUN make' }, { missedStep: 'RUN nothing' }];
// A pid above the kernel's maximum: a process that cannot be alive.
const DEAD_PID = 4194305;

describe('build history in PostgreSQL', { skip }, () => {
  const server = `hist-${process.pid}`;
  let url = '';
  let databases = 0;
  const fresh = () => createDatabase(url, `t${process.pid}_${++databases}`);
  const open: History[] = [];
  const pgHistory = async (db: string, builder: string, retention = {}) => {
    const h = await openPostgresHistory(db, { builder, ...retention });
    open.push(h);
    return h;
  };

  before(() => {
    url = postgres('start', server);
  });
  after(async () => {
    await Promise.all(open.map((h) => h.close().catch(() => {})));
    postgres('stop', server);
  });

  /** Records the planned builds; the abandoned ones are left to a dead process, then failed. */
  async function recordAll(
    h: History,
    builds: Planned[],
    markDead: (ids: number[]) => void,
  ): Promise<number> {
    const abandoned: number[] = [];
    for (const b of builds) {
      const { id } = await h.recordBuildStart(b.start);
      if (b.fate === 'finish')
        await h.recordBuildFinish({
          id,
          finishedMs: b.finishedMs,
          result: b.result,
          steps: b.steps,
          ...(b.result === 'ok' ? {} : { error: `${b.result} at ${b.steps.length}` }),
          ...(b.steps.length % 3 ? { trace: await traceOf(b) } : {}),
        });
      else if (b.fate === 'abandoned') abandoned.push(id);
    }
    markDead(abandoned);
    return h.failAbandoned(T0 + 5 * D);
  }

  /** Every answer of both histories over the windows ending at `ends`; returns the non-empty ones. */
  async function assertSameAnswers(
    lite: History,
    pg: History,
    ends: number[],
    traces = true,
  ): Promise<number> {
    let nonEmpty = 0;
    for (const now of ends)
      for (const window of ['1h', '24h', '7d'] as StatsWindow[])
        for (const groupBy of ['project', 'user', 'platform'] as StatsGroupBy[])
          for (const project of [undefined, 'api']) {
            const q: StatsQuery = { window, groupBy, now, project };
            const want = await lite.stats(q);
            assert.deepEqual(await pg.stats(q), want, JSON.stringify(q));
            assert.deepEqual(await pg.statsFromRaw(q), want, `raw ${JSON.stringify(q)}`);
            if (want.totals?.builds) nonEmpty++;
          }
    // The builds `depot history` lists and replays: the same records, traces and prefix answers.
    const sample: string[] = [];
    for (const project of ['web', 'api', 'jobs', 'docs'])
      for (const q of [
        {},
        { result: 'failed' },
        { platform: 'linux/arm64' },
        { limit: 3 },
        ...MISSED_STEPS,
      ]) {
        const query = { project, limit: 50, ...q };
        const want = await lite.listBuilds(query);
        assert.deepEqual(await pg.listBuilds(query), want, JSON.stringify(query));
        sample.push(...want.builds.slice(0, 2).map((b) => b.summary.buildId));
      }
    // Ids are `b<n>`: `b1` starts many of them, `b<n>0` some or none.
    let traced = 0;
    for (const id of sample)
      for (const project of ['web', 'api'])
        for (const ask of [id, id.slice(0, 2), `${id}0`]) {
          const want = await lite.findBuild(project, ask);
          assert.deepEqual(await pg.findBuild(project, ask), want, `${project} ${ask}`);
          if (want.kind === 'found' && want.trace) traced++;
        }
    assert.ok(traces ? traced > 0 : traced === 0, `${traced} builds found carry a trace`);
    for (const project of ['web', 'api', 'jobs', 'docs'])
      for (const platform of [undefined, 'linux/amd64', 'linux/arm64']) {
        const q = { project, dockerfilePath: 'Dockerfile', target: '', platform };
        assert.deepEqual(await pg.stepCosts(q), await lite.stepCosts(q), JSON.stringify(q));
        if (platform)
          assert.deepEqual(
            await pg.previousBuild(project, platform, 'Dockerfile', ''),
            await lite.previousBuild(project, platform, 'Dockerfile', ''),
          );
      }
    return nonEmpty;
  }

  test('the same builds give the same Stats, StepCosts, previous builds, build lists and traces from SQLite and PostgreSQL', async () => {
    const file = join(tempDir('hist-lite'), 'history.db');
    const retention = { maxAgeDays: 6, maxBuilds: 250 };
    const lite = await openHistory(file, { builder: 'bld-a', ...retention });
    open.push(lite);
    const db = fresh();
    const pg = await pgHistory(db, 'bld-a', retention);
    const builds = plan(7, 300, 10);
    const failedLite = await recordAll(lite, builds, (ids) => {
      const raw = new Database(file);
      for (const id of ids) raw.prepare('UPDATE builds SET owner_pid = ? WHERE id = ?').run(DEAD_PID, id);
      raw.close();
    });
    const failedPg = await recordAll(pg, builds, (ids) => {
      if (ids.length) psql(db, `UPDATE builds SET owner_pid = ${DEAD_PID} WHERE id IN (${ids.join(',')})`);
    });
    assert.ok(failedLite > 0, 'some builds were abandoned');
    assert.equal(failedPg, failedLite);
    const abandoned = builds.find((b) => b.fate === 'abandoned')!.start.buildId;
    assert.equal(await pg.errorOf(abandoned), 'builder stopped');
    assert.equal(await lite.errorOf(abandoned), 'builder stopped');

    const ends = windowEnds(builds, 11).slice(0, 14);
    assert.ok((await assertSameAnswers(lite, pg, ends)) > 40, 'most windows hold builds');
    assert.equal(await pg.hasStep(builds[0]!.steps[0]!.digest), true);

    // Pruning by count, then by age: both keep the same builds, and the roll-ups stay exact.
    assert.equal(await pg.prune(T0), await lite.prune(T0));
    assert.equal(await pg.prune(T0 + 12 * D), await lite.prune(T0 + 12 * D));
    assert.ok((await assertSameAnswers(lite, pg, ends)) > 10);
    // The roll-ups are derived data: made again from the raw rows, they say the same.
    await pg.rebuildRollups();
    assert.ok((await assertSameAnswers(lite, pg, ends.slice(0, 3))) > 0);
  });

  test('a shared history recorded before roots were kept gets them back-filled: the same answers as SQLite', async () => {
    const file = join(tempDir('hist-lite-roots'), 'history.db');
    const lite = await openHistory(file, { builder: 'bld-a' });
    open.push(lite);
    const db = fresh();
    const before = await openPostgresHistory(db, { builder: 'bld-a' });
    const builds = plan(29, 200, 6).map((b) => ({ ...b, fate: 'finish' as const }));
    await recordAll(lite, builds, () => {});
    await recordAll(before, builds, () => {});
    await before.close();
    // Back to the first schema: no recorded roots, misses' roll-ups of root causes only.
    psql(
      db,
      `DROP INDEX steps_charged_window; ALTER TABLE steps DROP COLUMN root_idx;
       ALTER TABLE miss_hours DROP COLUMN cascaded, DROP COLUMN cascade_cost_ms;
       ALTER TABLE miss_days DROP COLUMN cascaded, DROP COLUMN cascade_cost_ms;
       CREATE INDEX steps_missed_window ON steps(started_ms, project, instr, cause_kind, duration_ms)
         WHERE cached = 0 AND cascade = 0;
       DROP TABLE build_traces; DROP INDEX builds_project_build_id;
       DELETE FROM schema_version WHERE version > 1;`,
    );
    // Builds recorded before traces were kept have none, on either side.
    const liteDb = new Database(file);
    liteDb.exec('DELETE FROM build_traces');
    liteDb.close();
    const pg = await pgHistory(db, 'bld-a');
    assert.equal(psql(db, 'SELECT max(version) FROM schema_version'), String(PG_MIGRATIONS.length));
    assert.ok(Number(psql(db, 'SELECT count(*) FROM steps WHERE cascade = 1 AND root_idx IS NOT NULL')) > 50);
    assert.ok((await assertSameAnswers(lite, pg, windowEnds(builds, 3).slice(0, 8), false)) > 20);
  });

  test('two builders share one database: each fails only its own abandoned builds and compares with its own', async () => {
    const db = fresh();
    const [a, b] = await Promise.all([pgHistory(db, 'bld-a'), pgHistory(db, 'bld-b')]);
    assert.equal(a.id, b.id, 'one history, one name');
    assert.match(a.id, /^[0-9a-f-]{36}$/);
    assert.equal(psql(db, 'SELECT count(*) FROM schema_version'), String(PG_MIGRATIONS.length));

    const seenByA: BuildSummary[] = [];
    const seenByB: BuildSummary[] = [];
    const stopA = a.follow((s) => seenByA.push(s));
    b.follow((s) => seenByB.push(s));
    // The followers listen before they read: wait until both connections are up.
    await until('both followers listening', () => Number(psql(db, listeners)) >= 2, 10_000);

    const [first] = plan(3, 1, 1);
    const start = (buildId: string, over: Partial<BuildStart> = {}): BuildStart => ({
      ...first!.start,
      buildId,
      startedMs: T0 + 60_000,
      ...over,
    });
    const onA = await a.recordBuildStart(start('on-a'));
    assert.equal(onA.summary.builder, 'bld-a');
    await a.recordBuildFinish({ id: onA.id, finishedMs: T0 + 90_000, result: 'ok', steps: first!.steps });
    await until('B hears of the build A recorded', () => seenByB.some((s) => s.result === 'ok'), 10_000);
    assert.deepEqual(
      seenByB.map((s) => [s.buildId, s.builder, s.result]),
      [
        ['on-a', 'bld-a', 'running'],
        ['on-a', 'bld-a', 'ok'],
      ],
    );
    assert.equal(seenByA.length, 0, "a builder's own builds reach its watchers through its own feed");

    // A new build on B meets B's cache: it is compared with B's last build of the line, not A's.
    const line = [first!.start.project, first!.start.platform, 'Dockerfile', ''] as const;
    assert.equal((await a.previousBuild(...line))?.buildId, 'on-a');
    assert.equal(await b.previousBuild(...line), undefined);

    // Each builder left a build running in a process that is gone: each fails only its own.
    const deadA = await a.recordBuildStart(start('dead-a'));
    const deadB = await b.recordBuildStart(start('dead-b'));
    const liveB = await b.recordBuildStart(start('live-b'));
    psql(db, `UPDATE builds SET owner_pid = ${DEAD_PID} WHERE id IN (${deadA.id}, ${deadB.id})`);
    assert.equal(await a.failAbandoned(T0 + D), 1);
    assert.equal(await a.errorOf('dead-b'), undefined, "B's build is B's to fail");
    assert.equal(psql(db, `SELECT result FROM builds WHERE id = ${deadB.id}`), 'running');
    assert.equal(await b.failAbandoned(T0 + D), 1);
    assert.equal(await b.errorOf('dead-b'), 'builder stopped');
    assert.equal(psql(db, `SELECT result FROM builds WHERE id = ${liveB.id}`), 'running');
    await until(
      "A hears that B's abandoned build failed",
      () => seenByA.some((s) => s.buildId === 'dead-b' && s.result === 'failed'),
      10_000,
    );
    stopA();

    // Both builders give the team's answer, each build with the builder that ran it.
    const q: StatsQuery = { window: '24h', groupBy: 'project', now: T0 + D };
    const fromA = await a.stats(q);
    assert.deepEqual(await b.stats(q), fromA);
    assert.deepEqual(fromA.recent.map((s) => [s.buildId, s.builder, s.result]).sort(), [
      ['dead-a', 'bld-a', 'failed'],
      ['dead-b', 'bld-b', 'failed'],
      ['on-a', 'bld-a', 'ok'],
    ]);
  });

  test('a follower that lost its connection reconnects and hears what it missed', async () => {
    const db = fresh();
    const [a, b] = await Promise.all([pgHistory(db, 'bld-a'), pgHistory(db, 'bld-b')]);
    const heard: BuildSummary[] = [];
    b.follow((s) => heard.push(s));
    await until('B listening', () => Number(psql(db, listeners)) >= 1, 10_000);
    // The server drops B's listening connection (a restart, a network loss).
    psql(
      db,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${FOLLOWER_NAME}' AND datname = current_database()`,
    );
    const [one] = plan(5, 1, 1);
    const now = Date.now();
    const { id } = await a.recordBuildStart({ ...one!.start, buildId: 'while-away', startedMs: now - 1000 });
    await a.recordBuildFinish({ id, finishedMs: now, result: 'ok', steps: one!.steps });
    await until(
      'B hears the build that ended while it was away',
      () => heard.some((s) => s.buildId === 'while-away' && s.result === 'ok'),
      15_000,
    );
    // And it listens again: the next build is announced as it happens.
    const next = await a.recordBuildStart({ ...one!.start, buildId: 'after', startedMs: Date.now() });
    await until(
      'B hears the next start',
      () => heard.some((s) => s.buildId === 'after' && s.result === 'running'),
      10_000,
    );
    await a.recordBuildFinish({ id: next.id, finishedMs: Date.now(), result: 'failed', steps: [] });
  });

  test('builders recording at once keep the roll-ups exact', async () => {
    const db = fresh();
    const builders = await Promise.all(['bld-a', 'bld-b', 'bld-c'].map((id) => pgHistory(db, id)));
    // Every build in the same few hours and projects: the writers meet on the same roll-up rows.
    const builds = plan(41, 90, 0.2).map((b) => ({ ...b, fate: 'finish' as const }));
    await Promise.all(
      builders.map(async (h, i) => {
        for (const b of builds.filter((_, k) => k % builders.length === i)) {
          const { id } = await h.recordBuildStart(b.start);
          await h.recordBuildFinish({ id, finishedMs: b.finishedMs, result: b.result, steps: b.steps });
        }
      }),
    );
    for (const now of windowEnds(builds, 5).slice(0, 6))
      for (const window of ['1h', '24h', '7d'] as StatsWindow[]) {
        const q: StatsQuery = { window, groupBy: 'user', now };
        assert.deepEqual(await builders[0]!.stats(q), await builders[2]!.statsFromRaw(q), JSON.stringify(q));
      }
    const week = await builders[1]!.stats({ window: '7d', groupBy: 'platform', now: T0 + 2 * D });
    assert.equal(week.totals?.builds, 90);
  });

  test('a database at a newer schema is refused with one line; a bad address names the database', async () => {
    const db = fresh();
    await pgHistory(db, 'bld-a');
    psql(db, `INSERT INTO schema_version VALUES (${PG_MIGRATIONS.length + 1}, 0)`);
    await assert.rejects(openPostgresHistory(db, { builder: 'bld-b' }), {
      message: new RegExp(
        `^history database postgres:///t\\d+_\\d+\\?host=.*: the history database is at schema version ${PG_MIGRATIONS.length + 1}, newer than this builder knows \\(${PG_MIGRATIONS.length}\\)$`,
      ),
    });
    await assert.rejects(
      openPostgresHistory('postgres://depot:s3cret@127.0.0.1:1/nowhere', { builder: 'bld-b' }),
      (err: Error) => {
        assert.match(err.message, /^history database postgres:\/\/depot:\*\*\*@127\.0\.0\.1:1\/nowhere: /);
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      },
    );
  });
});

/** Followers connected, listening and done reading what they missed. */
const listeners = `SELECT count(*) FROM pg_stat_activity WHERE application_name = '${FOLLOWER_NAME}' AND state = 'idle' AND datname = current_database()`;
