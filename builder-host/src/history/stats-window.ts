/**
 * A Stats window read from the history tables: the reference reading of every raw row, and the
 * fast one that takes whole hours (and days) from the roll-ups. The SQL is the same for SQLite and
 * PostgreSQL; the one planner hint SQLite needs is the only dialect branch.
 */
import { NO_ADVICE } from './advice.js';
import { CHARGED_MISSES, DIMENSION_COLUMN, HOUR_MS, type Span, splitByDay, splitByHour } from './rollups.js';
import type { Sql, SqlParam } from './sql.js';
import type { BuildSummary, StatsQuery, StatsResult, StatsWindow } from './types.js';

const WINDOW_MS: Record<StatsWindow, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
};
// Sparkline resolution: 12 × 5 min, 24 × 1 h, 7 × 1 day.
const BUCKET_MS: Record<StatsWindow, number> = {
  '1h': 300_000,
  '24h': 3_600_000,
  '7d': 86_400_000,
};

/** Length of a Stats window in ms. */
export function windowMs(w: StatsWindow): number {
  return WINDOW_MS[w];
}

const TOP_BUSTERS = 10;
/** Finished builds a Stats answer lists (`recent`). */
const RECENT_BUILDS = 20;
/** Builds walked newest-finished first for `recent` before the window's own rows are read instead. */
const RECENT_WALK = 1000;
/** Rows of that walk read at a time. */
const RECENT_PAGE = 100;

/** The columns of `builds` a BuildSummary is made of. */
export const SUMMARY_COLUMNS =
  'build_id, project, "user", platform, builder, started_ms, finished_ms, result, steps, cached_steps, saved_ms';

/** A `builds` row as SUMMARY_COLUMNS select it. */
export interface SummaryRow {
  build_id: string;
  project: string;
  user: string;
  platform: string;
  builder: string | null;
  started_ms: number;
  finished_ms: number;
  result: string;
  steps: number;
  cached_steps: number;
  saved_ms: number;
}

/** A `builds` row as the summary that Stats, WatchBuilds and the recorder hand out. */
export function toSummary(r: SummaryRow, builder = ''): BuildSummary {
  return {
    buildId: r.build_id,
    project: r.project,
    user: r.user,
    platform: r.platform,
    builder: r.builder ?? builder,
    startedMs: r.started_ms,
    finishedMs: r.finished_ms,
    result: r.result,
    steps: r.steps,
    cachedSteps: r.cached_steps,
    savedMs: r.saved_ms,
  };
}

interface Counters {
  builds: number;
  steps: number;
  cached_steps: number;
  saved_ms: number;
  build_ms: number;
  bytes_deduplicated: number;
  bytes_uploaded: number;
  failed_builds: number;
}

interface TotalsRow extends Counters {
  key: string;
}

/** Misses charged to one root step (project, instruction, cause kind): its own, and its cascades. */
interface MissRow {
  project: string;
  instr: string;
  kind: string | null;
  n: number;
  cost: number;
  cascaded: number;
  cascade_cost: number;
}

/** What a window's answer is made of, however it was read. */
export interface WindowData {
  groups: TotalsRow[];
  /** Steps and cached steps by series bucket; a bucket may appear more than once (summed). */
  series: { b: number; steps: number; cached: number }[];
  misses: MissRow[];
  recent: SummaryRow[];
}

/** A Stats query checked and turned into the window's bounds. */
export interface Window {
  query: StatsQuery;
  span: number;
  bucket: number;
  /** Series buckets. */
  n: number;
  from: number;
  groupCol: string;
}

/** Checks a query and computes its window; throws one clear line for a bad one. */
export function windowOf(query: StatsQuery): Window {
  const span = WINDOW_MS[query.window];
  const bucket = BUCKET_MS[query.window];
  if (!span || !bucket) throw new Error(`unknown stats window ${JSON.stringify(query.window)}`);
  const groupCol = DIMENSION_COLUMN[query.groupBy];
  if (!groupCol) throw new Error(`unknown stats grouping ${JSON.stringify(query.groupBy)}`);
  // Hours are cut on whole ms: a fractional or unsafe `now` would put edges between rows.
  if (!Number.isSafeInteger(query.now))
    throw new Error(`stats time ${query.now} is not a whole number of ms`);
  return { query, span, bucket, n: Math.ceil(span / bucket), from: query.now - span, groupCol };
}

const FAILED = "CASE WHEN result = 'failed' THEN 1 ELSE 0 END";
const BUCKET = 'CAST((started_ms - ?) / ? AS BIGINT)';

/** The reference reading: every raw row of the window. */
export async function rawWindow(sql: Sql, w: Window): Promise<WindowData> {
  const { query, from, bucket, groupCol } = w;
  const scope = query.project === undefined ? '' : 'AND project = ?';
  const params: SqlParam[] = [from, query.now];
  if (query.project !== undefined) params.push(query.project);
  // The window is [now - span, now]; builds still running count once they finish.
  const where = `started_ms >= ? AND started_ms <= ? ${scope}`;
  const groups = await sql.all<TotalsRow>(
    `
    SELECT ${groupCol} AS key, count(*) AS builds, sum(steps) AS steps, sum(cached_steps) AS cached_steps,
      sum(saved_ms) AS saved_ms, sum(finished_ms - started_ms) AS build_ms,
      sum(bytes_deduplicated) AS bytes_deduplicated, sum(bytes_uploaded) AS bytes_uploaded,
      sum(${FAILED}) AS failed_builds
    FROM builds WHERE ${where} AND result != 'running' GROUP BY ${groupCol}`,
    params,
  );
  const series = await sql.all<WindowData['series'][number]>(
    `
    SELECT ${BUCKET} AS b, sum(steps) AS steps, sum(cached_steps) AS cached
    FROM builds WHERE ${where} AND result != 'running' GROUP BY 1`,
    [from, bucket, ...params],
  );
  const misses = await sql.all<MissRow>(
    `
    SELECT project, instr, kind, sum(n) AS n, sum(cost) AS cost, sum(cascaded) AS cascaded,
      sum(cascade_cost) AS cascade_cost
    FROM (
      SELECT r.project, r.instr, r.cause_kind AS kind, ${CHARGED_MISSES}
        AND s.started_ms >= ? AND s.started_ms <= ? ${scope && 'AND s.project = ?'}
    ) AS u GROUP BY project, instr, kind`,
    params,
  );
  const recent = await sql.all<SummaryRow>(
    `
    SELECT ${SUMMARY_COLUMNS}
    FROM builds WHERE ${where} AND result != 'running' ORDER BY finished_ms DESC, id DESC LIMIT ${RECENT_BUILDS}`,
    params,
  );
  return { groups, series, misses, recent };
}

/**
 * The same data as `rawWindow`, with whole hours (and, for misses, whole days) read from the
 * roll-ups and only the partial hours from the raw rows: the window's two edges and, for the
 * series, the hours a bucket boundary falls inside.
 */
export async function rolledWindow(sql: Sql, w: Window): Promise<WindowData> {
  const { query, from, bucket, n, groupCol } = w;
  const scoped = query.project !== undefined;
  const project = query.project ?? '';
  const scope = scoped ? 'AND project = ?' : '';
  const scopeArgs = scoped ? [project] : [];
  const rollScope = [w.query.groupBy, scoped ? 0 : 1, project] as const;
  // Raw rows are read as [lo, hi) on whole ms; the window itself is [from, now].
  const lo = from;
  const hi = query.now + 1;
  const edges = splitByHour(lo, hi);
  const [head, tail] = rawEdges(edges.raw, lo, hi);
  const hours = edges.hours[0] ?? [0, 0];

  const rawBuilds = `
    SELECT ${groupCol} AS key, 1 AS builds, steps, cached_steps, saved_ms, finished_ms - started_ms AS build_ms,
      bytes_deduplicated, bytes_uploaded, ${FAILED} AS failed_builds
    FROM builds WHERE started_ms >= ? AND started_ms < ? AND result != 'running' ${scope}`;
  const groups = await sql.all<TotalsRow>(
    `
    SELECT key, sum(builds) AS builds, sum(steps) AS steps, sum(cached_steps) AS cached_steps,
      sum(saved_ms) AS saved_ms, sum(build_ms) AS build_ms, sum(bytes_deduplicated) AS bytes_deduplicated,
      sum(bytes_uploaded) AS bytes_uploaded, sum(failed_builds) AS failed_builds
    FROM (
      ${rawBuilds}
      UNION ALL
      SELECT key, builds, steps, cached_steps, saved_ms, build_ms, bytes_deduplicated, bytes_uploaded, failed_builds
      FROM build_hours WHERE dim = ? AND all_projects = ? AND project = ? AND hour >= ? AND hour < ?
      UNION ALL
      ${rawBuilds}
    ) AS u GROUP BY key`,
    [...head, ...scopeArgs, ...rollScope, ...hours, ...tail, ...scopeArgs],
  );

  const cuts = Array.from({ length: n - 1 }, (_, i) => from + (i + 1) * bucket);
  const bySeries = splitByHour(lo, hi, cuts);
  const series: WindowData['series'] = [];
  for (const [a, b] of bySeries.raw)
    series.push(
      ...(await sql.all<WindowData['series'][number]>(
        `
        SELECT ${BUCKET} AS b, sum(steps) AS steps, sum(cached_steps) AS cached
        FROM builds WHERE started_ms >= ? AND started_ms < ? AND result != 'running' ${scope} GROUP BY 1`,
        [from, bucket, a, b, ...scopeArgs],
      )),
    );
  // The platform rows are the fewest that still count every build of the scope.
  for (const [h0, h1] of bySeries.hours)
    for (const r of await sql.all<{ hour: number; steps: number; cached: number }>(
      `
      SELECT hour, sum(steps) AS steps, sum(cached_steps) AS cached FROM build_hours
      WHERE dim = 'platform' AND all_projects = ? AND project = ? AND hour >= ? AND hour < ? GROUP BY hour`,
      [scoped ? 0 : 1, project, h0, h1],
    ))
      series.push({
        b: Math.floor((r.hour * HOUR_MS - from) / bucket),
        steps: r.steps,
        cached: r.cached,
      });

  const { days, before, after } = splitByDay(hours[0], hours[1]);
  const rawMisses = `
    SELECT r.project, r.instr, coalesce(r.cause_kind, 'unknown') AS kind, ${CHARGED_MISSES}
      AND s.started_ms >= ? AND s.started_ms < ? ${scope && 'AND s.project = ?'}`;
  const rolledMisses = (table: string, col: string) => `
    SELECT project, instr, kind, misses AS n, cost_ms AS cost, cascaded, cascade_cost_ms AS cascade_cost
    FROM ${table} WHERE ${col} >= ? AND ${col} < ? ${scope}`;
  const misses = await sql.all<MissRow>(
    `
    SELECT project, instr, kind, sum(n) AS n, sum(cost) AS cost, sum(cascaded) AS cascaded,
      sum(cascade_cost) AS cascade_cost
    FROM (
      ${rawMisses}
      UNION ALL ${rolledMisses('miss_hours', 'hour')}
      UNION ALL ${rolledMisses('miss_days', 'day')}
      UNION ALL ${rolledMisses('miss_hours', 'hour')}
      UNION ALL ${rawMisses}
    ) AS u GROUP BY project, instr, kind`,
    [
      ...head,
      ...scopeArgs,
      ...before,
      ...scopeArgs,
      ...days,
      ...scopeArgs,
      ...after,
      ...scopeArgs,
      ...tail,
      ...scopeArgs,
    ],
  );

  return { groups, series, misses, recent: await recentOf(sql, w) };
}

/** The raw spans before and after the whole hours of a window (empty spans where there are none). */
function rawEdges(raw: Span[], lo: number, hi: number): [Span, Span] {
  const head = raw.find((s) => s[0] === lo);
  const tail = raw.find((s) => s[1] === hi && s !== head);
  return [head ?? [0, 0], tail ?? [0, 0]];
}

/**
 * The window's last finished builds: walks builds newest-finished first, a page at a time, which for
 * a window ending now stops after about as many rows as it lists; a window far in the past, or a
 * scope with few builds, reads its own rows instead.
 */
async function recentOf(sql: Sql, w: Window): Promise<SummaryRow[]> {
  const { query, from } = w;
  // SQLite's planner would read the whole window by start time and sort it.
  const hint = sql.dialect === 'sqlite' ? 'INDEXED BY builds_finished' : '';
  const out: SummaryRow[] = [];
  let seen = 0;
  let last: { finished_ms: number; id: number } | undefined;
  while (seen < RECENT_WALK) {
    const page = await sql.all<SummaryRow & { id: number }>(
      `
      SELECT id, ${SUMMARY_COLUMNS} FROM builds ${hint}
      WHERE result != 'running' ${last ? 'AND (finished_ms < ? OR (finished_ms = ? AND id < ?))' : ''}
      ORDER BY finished_ms DESC, id DESC LIMIT ${RECENT_PAGE}`,
      last ? [last.finished_ms, last.finished_ms, last.id] : [],
    );
    for (const r of page) {
      seen++;
      if (r.started_ms < from || r.started_ms > query.now) continue;
      if (query.project !== undefined && r.project !== query.project) continue;
      const { id: _, ...row } = r;
      out.push(row);
      if (out.length === RECENT_BUILDS) return out;
    }
    if (page.length < RECENT_PAGE) return out; // every finished build was seen
    const end = page[page.length - 1]!;
    last = { finished_ms: end.finished_ms, id: end.id };
  }
  const scope = query.project === undefined ? '' : 'AND project = ?';
  return sql.all<SummaryRow>(
    `
    SELECT ${SUMMARY_COLUMNS}
    FROM builds WHERE started_ms >= ? AND started_ms <= ? ${scope} AND result != 'running'
    ORDER BY finished_ms DESC, id DESC LIMIT ${RECENT_BUILDS}`,
    [from, query.now, ...(query.project === undefined ? [] : [query.project])],
  );
}

/** The answer of a window; the busters' suggestions are left to the advisor. */
export function assembleStats(w: Window, data: WindowData, builder = ''): StatsResult {
  const { query, from, bucket, n } = w;
  const zero: Counters = {
    builds: 0,
    steps: 0,
    cached_steps: 0,
    saved_ms: 0,
    build_ms: 0,
    bytes_deduplicated: 0,
    bytes_uploaded: 0,
    failed_builds: 0,
  };
  const add = (t: Counters, g: Counters): Counters => ({
    builds: t.builds + g.builds,
    steps: t.steps + g.steps,
    cached_steps: t.cached_steps + g.cached_steps,
    saved_ms: t.saved_ms + g.saved_ms,
    build_ms: t.build_ms + g.build_ms,
    bytes_deduplicated: t.bytes_deduplicated + g.bytes_deduplicated,
    bytes_uploaded: t.bytes_uploaded + g.bytes_uploaded,
    failed_builds: t.failed_builds + g.failed_builds,
  });
  const groups = data.groups;
  const totals = groups.reduce<Counters>((t, g) => add(t, g), { ...zero });

  const series = Array.from({ length: n }, (_, i) => ({
    startMs: from + i * bucket,
    steps: 0,
    cachedSteps: 0,
  }));
  for (const r of data.series) {
    // A build that started on the window's last ms falls one bucket past the end: it counts in the last.
    const s = series[Math.min(n - 1, r.b)];
    if (s) {
      s.steps += r.steps;
      s.cachedSteps += r.cached;
    }
  }

  const byStep = new Map<
    string,
    {
      project: string;
      step: string;
      misses: number;
      costMs: number;
      cascadedMisses: number;
      cascadeCostMs: number;
      causes: Map<string, number>;
    }
  >();
  for (const m of data.misses) {
    const k = `${m.project}\0${m.instr}`;
    let b = byStep.get(k);
    if (!b) {
      b = {
        project: m.project,
        step: m.instr,
        misses: 0,
        costMs: 0,
        cascadedMisses: 0,
        cascadeCostMs: 0,
        causes: new Map(),
      };
      byStep.set(k, b);
    }
    b.misses += m.n;
    b.costMs += m.cost;
    b.cascadedMisses += m.cascaded;
    b.cascadeCostMs += m.cascade_cost;
    const kind = m.kind ?? 'unknown';
    b.causes.set(kind, (b.causes.get(kind) ?? 0) + m.n);
  }
  // A root costs its own rebuilds and those of every step it invalidated.
  const busters = [...byStep.values()]
    .sort(
      (a, b) =>
        b.costMs + b.cascadeCostMs - (a.costMs + a.cascadeCostMs) ||
        b.misses - a.misses ||
        a.project.localeCompare(b.project) ||
        a.step.localeCompare(b.step),
    )
    .slice(0, TOP_BUSTERS)
    .map((b) => {
      const causes = [...b.causes]
        .map(([kind, count]) => ({ kind, count }))
        .sort((x, y) => y.count - x.count || x.kind.localeCompare(y.kind));
      return {
        project: b.project,
        step: b.step,
        misses: b.misses,
        costMs: b.costMs,
        causes,
        ...NO_ADVICE,
        cascadedMisses: b.cascadedMisses,
        cascadeCostMs: b.cascadeCostMs,
        invalidated: [] as string[],
      };
    });

  const toTotals = (t: Counters) => ({
    builds: t.builds,
    steps: t.steps,
    cachedSteps: t.cached_steps,
    hitRatio: t.steps ? t.cached_steps / t.steps : 0,
    savedMs: t.saved_ms,
    buildMs: t.build_ms,
    bytesDeduplicated: t.bytes_deduplicated,
    bytesUploaded: t.bytes_uploaded,
    failedBuilds: t.failed_builds,
  });
  return {
    window: query.window,
    totals: toTotals(totals),
    groups: groups
      .map((g) => ({ key: g.key, totals: toTotals(g) }))
      .sort((a, b) => b.totals.builds - a.totals.builds || a.key.localeCompare(b.key)),
    series,
    busters,
    running: [],
    // The dashboard lists these under the running builds: a window with builds is never "none".
    recent: data.recent.map((r) => toSummary(r, builder)),
  };
}
