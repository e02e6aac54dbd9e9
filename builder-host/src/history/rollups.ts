import type { Sql, SqlParam } from './sql.js';

/** Length of one roll-up hour in ms. */
export const HOUR_MS = 3_600_000;
const HOURS_PER_DAY = 24;

/** Dimensions a Stats answer groups builds by; each has its own roll-up rows. */
export const DIMENSIONS = ['project', 'user', 'platform'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** A dimension's column in `builds` (`user` is a reserved word in PostgreSQL). */
export const DIMENSION_COLUMN: Record<Dimension, string> = {
  project: 'project',
  user: '"user"',
  platform: 'platform',
};

/**
 * Roll-up tables: sums of finished builds and of missed steps by the hour (UTC) their build
 * started. They are derived from `builds` and `steps` and always written in the transaction
 * that writes those rows, so `rebuildRollups` can make them again from the raw rows at any time.
 *
 * - `build_hours`: per dimension (project, user, platform) and key, once over every project
 *   (`all_projects = 1`, `project = ''`) and once per project, so both an admin's view and a
 *   project's view read only their own rows.
 * - `miss_hours` and `miss_days`: per root step — project, instruction and cause kind (a NULL kind
 *   is kept as 'unknown', the name Stats gives it) — its root-cause misses and their cost, and the
 *   cascaded misses charged to it (`steps.root_idx`, roots.ts) and theirs (`cascaded`,
 *   `cascade_cost_ms`, added by a later migration). The day level exists because misses spread over
 *   many keys: in a week of 100,000 builds an hour holds nearly as many keys as misses.
 *
 * The partial indexes find rows a subtraction emptied without scanning the tables (a row's cascades
 * leave with its root misses, so `misses = 0` finds them). This is the SQLite schema of the
 * migration that made the tables; PostgreSQL's (postgres.ts) has the same tables and keys.
 */
export const ROLLUP_SCHEMA = `
  CREATE TABLE build_hours (
    dim TEXT NOT NULL,
    all_projects INTEGER NOT NULL,
    project TEXT NOT NULL,
    hour INTEGER NOT NULL,
    key TEXT NOT NULL,
    builds INTEGER NOT NULL,
    failed_builds INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    cached_steps INTEGER NOT NULL,
    saved_ms INTEGER NOT NULL,
    build_ms INTEGER NOT NULL,
    bytes_deduplicated INTEGER NOT NULL,
    bytes_uploaded INTEGER NOT NULL,
    PRIMARY KEY (dim, all_projects, project, hour, key)
  ) WITHOUT ROWID;
  CREATE INDEX build_hours_empty ON build_hours(hour) WHERE builds = 0;
  CREATE TABLE miss_hours (
    hour INTEGER NOT NULL,
    project TEXT NOT NULL,
    instr TEXT NOT NULL,
    kind TEXT NOT NULL,
    misses INTEGER NOT NULL,
    cost_ms INTEGER NOT NULL,
    PRIMARY KEY (hour, project, instr, kind)
  ) WITHOUT ROWID;
  CREATE INDEX miss_hours_empty ON miss_hours(hour) WHERE misses = 0;
  CREATE TABLE miss_days (
    day INTEGER NOT NULL,
    project TEXT NOT NULL,
    instr TEXT NOT NULL,
    kind TEXT NOT NULL,
    misses INTEGER NOT NULL,
    cost_ms INTEGER NOT NULL,
    PRIMARY KEY (day, project, instr, kind)
  ) WITHOUT ROWID;
  CREATE INDEX miss_days_empty ON miss_days(day) WHERE misses = 0;
`;

// floor(<ms> / 1 h), also for times before 1970 (`/` and `%` truncate toward zero in both SQLite and
// PostgreSQL).
const hourOf = (ms: string) => `((${ms} - ((${ms} % ${HOUR_MS}) + ${HOUR_MS}) % ${HOUR_MS}) / ${HOUR_MS})`;
const dayOf = (ms: string) =>
  `((${hourOf(ms)} - ((${hourOf(ms)} % ${HOURS_PER_DAY}) + ${HOURS_PER_DAY}) % ${HOURS_PER_DAY}) / ${HOURS_PER_DAY})`;
const HOUR_OF = hourOf('started_ms');

/** Counters of the misses' roll-ups. */
const MISS_COUNTERS = ['misses', 'cost_ms', 'cascaded', 'cascade_cost_ms'] as const;

/**
 * The missed steps charged to a root, as columns of their root (`r`): `n` root misses and their
 * `cost`, `cascaded` misses and their `cascade_cost`. Rows are the charged misses `s` joined to
 * their root; the caller adds its WHERE (on `s`) and GROUP BY.
 */
export const CHARGED_MISSES = `
  CASE WHEN s.cascade = 0 THEN 1 ELSE 0 END AS n,
  CASE WHEN s.cascade = 0 THEN s.duration_ms ELSE 0 END AS cost,
  CASE WHEN s.cascade = 0 THEN 0 ELSE 1 END AS cascaded,
  CASE WHEN s.cascade = 0 THEN 0 ELSE s.duration_ms END AS cascade_cost
  FROM steps s JOIN steps r ON r.build = s.build AND r.idx = s.root_idx
  WHERE s.cached = 0 AND s.root_idx IS NOT NULL`;

const COUNTERS = [
  'builds',
  'failed_builds',
  'steps',
  'cached_steps',
  'saved_ms',
  'build_ms',
  'bytes_deduplicated',
  'bytes_uploaded',
] as const;

/** A `SELECT` of one build's row id, for `applyRollups`. */
export const ONE_BUILD = 'SELECT CAST(? AS BIGINT)';

// Qualified: in PostgreSQL a bare `builds` or `steps` would also name the tables the rows come from.
const upsertSet = (table: string, cols: readonly string[]) =>
  cols.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');

/**
 * Adds (sign 1) or removes (sign -1) the finished builds whose row id `select` selects (a
 * `SELECT id FROM builds …` taking `params`), with their missed steps charged to their roots. Must
 * run in the transaction that writes those rows. Rows are written in key order, so two builders
 * adding to the same hours at once wait for each other instead of deadlocking.
 */
export async function applyRollups(
  sql: Sql,
  select: string,
  params: readonly SqlParam[],
  sign: 1 | -1,
): Promise<void> {
  for (const dim of DIMENSIONS) {
    for (const all of [1, 0]) {
      await sql.run(
        `
        INSERT INTO build_hours (dim, all_projects, project, hour, key, ${COUNTERS.join(', ')})
        SELECT '${dim}', ${all}, ${all ? "''" : 'project'}, ${HOUR_OF} AS h, ${DIMENSION_COLUMN[dim]} AS k,
          ${sign} * count(*), ${sign} * sum(CASE WHEN result = 'failed' THEN 1 ELSE 0 END),
          ${sign} * sum(steps), ${sign} * sum(cached_steps), ${sign} * sum(saved_ms),
          ${sign} * sum(finished_ms - started_ms), ${sign} * sum(bytes_deduplicated),
          ${sign} * sum(bytes_uploaded)
        FROM builds WHERE id IN (${select}) AND result != 'running'
        GROUP BY ${all ? '' : 'project, '}h, k
        ORDER BY ${all ? '' : 'project, '}h, k
        ON CONFLICT (dim, all_projects, project, hour, key) DO UPDATE SET ${upsertSet('build_hours', COUNTERS)}`,
        params,
      );
    }
  }
  for (const [table, col, expr] of [
    ['miss_hours', 'hour', hourOf('u.started_ms')],
    ['miss_days', 'day', dayOf('u.started_ms')],
  ] as const) {
    await sql.run(
      `
      INSERT INTO ${table} (${col}, project, instr, kind, ${MISS_COUNTERS.join(', ')})
      SELECT ${expr} AS t, project, instr, kind, ${sign} * sum(n), ${sign} * sum(cost), ${sign} * sum(cascaded),
        ${sign} * sum(cascade_cost)
      FROM (
        SELECT r.started_ms, r.project, r.instr, coalesce(r.cause_kind, 'unknown') AS kind, ${CHARGED_MISSES}
          AND s.build IN (${select})
      ) AS u
      GROUP BY t, project, instr, kind
      ORDER BY t, project, instr, kind
      ON CONFLICT (${col}, project, instr, kind) DO UPDATE SET ${upsertSet(table, MISS_COUNTERS)}`,
      params,
    );
  }
}

/** Deletes the roll-up rows a removal left at zero. */
export async function dropEmptyRollups(sql: Sql): Promise<void> {
  await sql.run('DELETE FROM build_hours WHERE builds = 0');
  await sql.run('DELETE FROM miss_hours WHERE misses = 0');
  await sql.run('DELETE FROM miss_days WHERE misses = 0');
}

/** Empties the roll-ups and fills them again from every raw row (inside the caller's transaction). */
export async function rebuildRollups(sql: Sql): Promise<void> {
  await sql.exec('DELETE FROM build_hours; DELETE FROM miss_hours; DELETE FROM miss_days;');
  await applyRollups(sql, 'SELECT id FROM builds', [], 1);
}

/** True when the roll-ups count as many finished builds as the raw rows (one statement: one snapshot). */
export async function rollupsAgree(sql: Sql): Promise<boolean> {
  const r = await sql.get<{ raw: number; rolled: number }>(`
    SELECT (SELECT count(*) FROM builds WHERE result != 'running') AS raw,
      (SELECT coalesce(sum(builds), 0) FROM build_hours WHERE dim = 'platform' AND all_projects = 1) AS rolled`);
  return r?.raw === r?.rolled;
}

/** A range of whole hours [from, to) and one of ms [from, to), both half-open. */
export type Span = readonly [number, number];

/**
 * Splits the ms range [lo, hi) into whole hours that no cut falls strictly inside (read from the
 * roll-ups) and the rest (read from the raw rows): the partial hours at both edges and every hour a
 * cut splits.
 */
export function splitByHour(
  lo: number,
  hi: number,
  cuts: readonly number[] = [],
): { hours: Span[]; raw: Span[] } {
  const h0 = Math.ceil(lo / HOUR_MS);
  const h1 = Math.floor(hi / HOUR_MS);
  if (h0 >= h1) return { hours: [], raw: lo < hi ? [[lo, hi]] : [] };
  const hours: Span[] = [];
  const raw: Span[] = [];
  if (lo < h0 * HOUR_MS) raw.push([lo, h0 * HOUR_MS]);
  let run = h0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= h0 * HOUR_MS || c >= h1 * HOUR_MS || c % HOUR_MS === 0) continue;
    const h = Math.floor(c / HOUR_MS);
    if (h < run) continue; // this hour is already raw
    if (h > run) hours.push([run, h]);
    raw.push([h * HOUR_MS, (h + 1) * HOUR_MS]);
    run = h + 1;
  }
  if (run < h1) hours.push([run, h1]);
  if (h1 * HOUR_MS < hi) raw.push([h1 * HOUR_MS, hi]);
  return { hours, raw };
}

/** Splits whole hours [h0, h1) into whole UTC days [d0, d1) and the hours before and after them. */
export function splitByDay(h0: number, h1: number): { days: Span; before: Span; after: Span } {
  const d0 = Math.ceil(h0 / HOURS_PER_DAY);
  const d1 = Math.floor(h1 / HOURS_PER_DAY);
  if (d0 >= d1) return { days: [0, 0], before: [h0, h1], after: [0, 0] };
  return { days: [d0, d1], before: [h0, d0 * HOURS_PER_DAY], after: [d1 * HOURS_PER_DAY, h1] };
}
