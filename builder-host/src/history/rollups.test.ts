import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { type History, MIGRATIONS, openHistory } from './history.js';
import { HOUR_MS, splitByDay, splitByHour } from './rollups.js';
import { type Planned, plan, T0, windowEnds } from './seeded-history.js';
import type { StatsGroupBy, StatsQuery, StatsWindow } from './types.js';

const H = HOUR_MS;
const D = 24 * H;
// A pid above the kernel's maximum: a process that cannot be alive.
const DEAD_PID = 4194305;
const PRE_ROLLUP_VERSION = 3;

function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'depot-rollups-')), 'history.db');
}

/** Records `builds` in `file`; abandoned ones are left to a dead builder process and failed at the end. */
async function recordAll(h: History, file: string, builds: Planned[]): Promise<void> {
  const abandoned: number[] = [];
  for (const b of builds) {
    const { id } = await h.recordBuildStart(b.start);
    if (b.fate === 'finish')
      await h.recordBuildFinish({ id, finishedMs: b.finishedMs, result: b.result, steps: b.steps });
    else if (b.fate === 'abandoned') abandoned.push(id);
  }
  const raw = new Database(file);
  const own = raw.prepare('UPDATE builds SET owner_pid = ? WHERE id = ?');
  for (const id of abandoned) own.run(DEAD_PID, id);
  raw.close();
  assert.equal(await h.failAbandoned(T0 + 5 * D), abandoned.length);
}

/** Compares every answer with the raw rows' (busters charged with cascades among them); returns the non-empty ones. */
async function assertSameAnswers(h: History, ends: number[]): Promise<number> {
  let nonEmpty = 0;
  let cascades = 0;
  for (const now of ends)
    for (const window of ['1h', '24h', '7d'] as StatsWindow[])
      for (const groupBy of ['project', 'user', 'platform'] as StatsGroupBy[])
        for (const project of [undefined, 'api', 'nobody']) {
          const q: StatsQuery = { window, groupBy, now, project };
          const got = await h.stats(q);
          assert.deepEqual(got, await h.statsFromRaw(q), JSON.stringify(q));
          if (got.totals?.builds) nonEmpty++;
          if (got.busters.some((b) => b.cascadedMisses > 0 && b.invalidated.length > 0)) cascades++;
        }
  if (nonEmpty > 0) assert.ok(cascades > 0, 'some busters carry the misses they cascaded into');
  return nonEmpty;
}

/** Every roll-up row, in key order. */
function dump(file: string): unknown {
  const db = new Database(file, { readonly: true });
  const out = {
    builds: db.prepare('SELECT * FROM build_hours ORDER BY dim, all_projects, project, hour, key').all(),
    hours: db.prepare('SELECT * FROM miss_hours ORDER BY hour, project, instr, kind').all(),
    days: db.prepare('SELECT * FROM miss_days ORDER BY day, project, instr, kind').all(),
  };
  db.close();
  return out;
}

describe('stats roll-ups', () => {
  test('a randomized history: the roll-up answer equals the raw rows for any window, also after pruning', async () => {
    const file = tempDb();
    const h = await openHistory(file, { maxAgeDays: 6, maxBuilds: 350 });
    const builds = plan(7, 500, 10);
    await recordAll(h, file, builds);
    const ends = windowEnds(builds, 11);
    assert.ok((await assertSameAnswers(h, ends)) > 100, 'most windows hold builds');
    // What was written build by build is what a rebuild from the raw rows makes.
    const incremental = dump(file);
    assert.ok((incremental as { builds: unknown[] }).builds.length > 0);
    await h.rebuildRollups();
    assert.deepEqual(dump(file), incremental);

    // Pruning by count, then by age: removals keep the roll-ups equal to the raw rows, no empty rows left.
    assert.ok((await h.prune(T0)) > 0);
    assert.ok((await h.prune(T0 + 12 * D)) > 0);
    assert.ok((await assertSameAnswers(h, ends)) > 20);
    const pruned = dump(file);
    await h.rebuildRollups();
    assert.deepEqual(dump(file), pruned);
    await h.close();
  });

  test('another seed, no pruning, every build finished', async () => {
    const file = tempDb();
    const h = await openHistory(file);
    const builds = plan(2024, 300, 8).map((b) => ({ ...b, fate: 'finish' as const }));
    await recordAll(h, file, builds);
    assert.ok((await assertSameAnswers(h, windowEnds(builds, 3))) > 50);
    await h.close();
  });

  test('stats reads whole hours from the roll-ups, and a rebuild brings them back to the raw rows', async () => {
    const file = tempDb();
    const h = await openHistory(file);
    const builds = plan(5, 100, 2).map((b) => ({ ...b, fate: 'finish' as const }));
    await recordAll(h, file, builds);
    const q: StatsQuery = { window: '7d', groupBy: 'project', now: T0 + 2 * D + 1234 };
    const before = await h.stats(q);
    assert.deepEqual(before, await h.statsFromRaw(q));
    // Raw rows changed behind the history's back, in a whole hour of the window.
    const raw = new Database(file);
    const victim = raw
      .prepare(
        "SELECT id FROM builds WHERE result != 'running' AND started_ms >= ? AND started_ms < ? ORDER BY id LIMIT 1",
      )
      .pluck()
      .get(T0 + 6 * H, T0 + 20 * H) as number;
    raw.prepare('UPDATE builds SET steps = steps + 1000 WHERE id = ?').run(victim);
    raw.close();
    assert.equal((await h.stats(q)).totals?.steps, before.totals?.steps, 'the roll-ups answered');
    assert.equal((await h.statsFromRaw(q)).totals?.steps, (before.totals?.steps ?? 0) + 1000);
    await h.rebuildRollups();
    assert.deepEqual(await h.stats(q), await h.statsFromRaw(q));
    await h.close();
  });

  test('an abandoned build is counted once failed, and once more only as it finally ends', async () => {
    const file = tempDb();
    const h = await openHistory(file);
    const [b] = plan(9, 1, 1);
    const { id } = await h.recordBuildStart(b!.start);
    const raw = new Database(file);
    raw.prepare('UPDATE builds SET owner_pid = ? WHERE id = ?').run(DEAD_PID, id);
    raw.close();
    const q: StatsQuery = { window: '24h', groupBy: 'user', now: b!.start.startedMs + 2 * H };
    assert.equal((await h.stats(q)).totals?.builds, 0);
    assert.equal(await h.failAbandoned(b!.start.startedMs + 10), 1);
    const failed = await h.stats(q);
    assert.deepEqual(
      [failed.totals?.builds, failed.totals?.failedBuilds, failed.totals?.buildMs],
      [1, 1, 10],
    );
    assert.deepEqual(failed, await h.statsFromRaw(q));
    await h.recordBuildFinish({ id, finishedMs: b!.start.startedMs + 500, result: 'ok', steps: b!.steps });
    const ok = await h.stats(q);
    assert.deepEqual([ok.totals?.builds, ok.totals?.failedBuilds, ok.totals?.buildMs], [1, 0, 500]);
    assert.deepEqual(ok, await h.statsFromRaw(q));
    const rows = dump(file);
    await h.rebuildRollups();
    assert.deepEqual(dump(file), rows, 'no row was left at zero');
    await h.close();
  });

  test('a history recorded before the roll-ups gets them back-filled once, at open', async () => {
    const file = tempDb();
    // Record with today's code, then take the database back to the schema before the roll-ups.
    const builds = plan(13, 200, 4);
    const h0 = await openHistory(file);
    await recordAll(h0, file, builds);
    const ends = windowEnds(builds, 17);
    const expected = await Promise.all(
      ends.map((now) => h0.statsFromRaw({ window: '7d', groupBy: 'platform', now })),
    );
    await h0.close();
    const db = new Database(file);
    // The recorded roots go too: the migration that keeps them back-fills them from the causes.
    db.exec(`
      DROP TABLE build_hours; DROP TABLE miss_hours; DROP TABLE miss_days;
      DROP INDEX builds_finished; DROP INDEX steps_arg_causes; ALTER TABLE builds DROP COLUMN builder;
      DROP INDEX steps_charged_window; ALTER TABLE steps DROP COLUMN root_idx;
      CREATE INDEX steps_missed_window ON steps(started_ms, project, instr, cause_kind, duration_ms)
        WHERE cached = 0 AND cascade = 0;
      DROP TABLE build_traces; DROP INDEX builds_project_build_id;
      DELETE FROM schema_version WHERE version > ${PRE_ROLLUP_VERSION};
    `);
    db.close();

    const h = await openHistory(file);
    assert.equal(await h.schemaVersion(), MIGRATIONS.length);
    assert.deepEqual(
      await Promise.all(ends.map((now) => h.stats({ window: '7d', groupBy: 'platform', now }))),
      expected,
    );
    assert.ok((await assertSameAnswers(h, ends.slice(0, 4))) > 0);
    await h.close();
  });

  test('a pre-roll-up database written with the old migrations only is back-filled', async () => {
    const file = tempDb();
    const db = new Database(file);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ms INTEGER NOT NULL)');
    for (let v = 0; v < PRE_ROLLUP_VERSION; v++) {
      MIGRATIONS[v]!(db);
      db.prepare('INSERT INTO schema_version VALUES (?, 0)').run(v + 1);
    }
    const build = db.prepare(`
      INSERT INTO builds (id, started_ms, finished_ms, project, user, platform, result, steps, cached_steps,
        build_id, snapshot_id, dockerfile_digest, build_args, base_images)
      VALUES (?, ?, ?, 'web', 'ann', 'linux/amd64', ?, 2, 1, ?, 's', 'd', '{}', '{}')`);
    const miss = db.prepare(`
      INSERT INTO steps (build, idx, started_ms, project, digest, name, instr, cached, duration_ms, bytes,
        saved_ms, cause_kind) VALUES (?, 0, ?, 'web', 'd', '[1/1] RUN x', 'RUN x', 0, 700, 0, 0, ?)`);
    for (let i = 1; i <= 30; i++) {
      const started = T0 + i * 37 * 60_000;
      build.run(i, started, started + 90_000, i % 3 ? 'ok' : 'failed', `b${i}`);
      miss.run(i, started, i % 2 ? 'changed_files' : null);
    }
    db.close();
    const h = await openHistory(file);
    const q: StatsQuery = { window: '24h', groupBy: 'project', now: T0 + 20 * H + 5 };
    const s = await h.stats(q);
    assert.deepEqual(s, await h.statsFromRaw(q));
    assert.deepEqual([s.totals?.builds, s.totals?.failedBuilds, s.busters[0]?.misses], [30, 10, 30]);
    await h.close();
  });

  test('rows written around the history (not through it) are noticed at open and the roll-ups rebuilt', async () => {
    const file = tempDb();
    const h0 = await openHistory(file);
    const builds = plan(21, 40, 1).map((b) => ({ ...b, fate: 'finish' as const }));
    await recordAll(h0, file, builds);
    await h0.close();
    const db = new Database(file);
    db.prepare(`
      INSERT INTO builds (started_ms, finished_ms, project, user, platform, result, steps, build_id, snapshot_id,
        dockerfile_digest, build_args, base_images) VALUES (?, ?, 'web', 'ann', 'linux/amd64', 'ok', 3, 'x', 's',
        'd', '{}', '{}')`).run(T0 + 5 * H, T0 + 5 * H + 10);
    db.close();
    const h = await openHistory(file);
    const q: StatsQuery = { window: '7d', groupBy: 'project', now: T0 + D + 7 };
    assert.equal((await h.stats(q)).totals?.builds, 41);
    assert.deepEqual(await h.stats(q), await h.statsFromRaw(q));
    await h.close();
  });

  test('bad times are refused with one clear line', async () => {
    const h = await openHistory(':memory:');
    await assert.rejects(h.stats({ window: '24h', groupBy: 'project', now: 1.5 }), {
      message: 'stats time 1.5 is not a whole number of ms',
    });
    await assert.rejects(
      h.stats({ window: '24h', groupBy: 'project', now: Number.NaN }),
      /not a whole number/,
    );
    const [b] = plan(1, 1, 1);
    await assert.rejects(
      h.recordBuildStart({ ...b!.start, startedMs: 10.25 }),
      /start time 10\.25 is not a whole number of ms/,
    );
    const { id } = await h.recordBuildStart(b!.start);
    await assert.rejects(
      h.recordBuildFinish({ id, finishedMs: Number.POSITIVE_INFINITY, result: 'ok', steps: [] }),
      /finish time Infinity is not a whole number of ms/,
    );
    await h.close();
  });
});

describe('window splitting', () => {
  test('whole hours go to the roll-ups; edges and cut hours stay raw', () => {
    const t = 1000 * H;
    assert.deepEqual(splitByHour(t + 5, t + 3 * H + 1), {
      hours: [[1001, 1003]],
      raw: [
        [t + 5, t + H],
        [t + 3 * H, t + 3 * H + 1],
      ],
    });
    assert.deepEqual(splitByHour(t, t + 3 * H), { hours: [[1000, 1003]], raw: [] });
    assert.deepEqual(splitByHour(t + 1, t + H - 1), { hours: [], raw: [[t + 1, t + H - 1]] });
    // A cut inside hour 1001 makes it raw; a cut on an hour boundary splits nothing.
    assert.deepEqual(splitByHour(t, t + 4 * H, [t + H + 7, t + 3 * H]), {
      hours: [
        [1000, 1001],
        [1002, 1004],
      ],
      raw: [[t + H, t + 2 * H]],
    });
    // Times before 1970 are cut on the same floor.
    assert.deepEqual(splitByHour(-H - 5, 5), {
      hours: [[-1, 0]],
      raw: [
        [-H - 5, -H],
        [0, 5],
      ],
    });
  });

  test('whole days of hours go to the daily roll-ups', () => {
    assert.deepEqual(splitByDay(20, 75), { days: [1, 3], before: [20, 24], after: [72, 75] });
    assert.deepEqual(splitByDay(25, 40), { days: [0, 0], before: [25, 40], after: [0, 0] });
  });
});
