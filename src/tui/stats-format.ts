/**
 * Numbers of a Stats answer as text, shared by the dashboard and `depot stats` (no Ink here).
 */
import { CAUSE_KIND_LABELS, formatBytes, formatDuration } from '../progress/index.js';
import type { BuildRecordWire, StatsResponseWire } from '../session/client.js';

type Totals = NonNullable<StatsResponseWire['totals']>;
type Bucket = StatsResponseWire['series'][number];
type Buster = StatsResponseWire['busters'][number];

/** Block glyphs of the sparkline, lowest first. */
export const SPARK_LEVELS = '▁▂▃▄▅▆▇█';
/** A bucket without steps: no ratio to draw. */
export const SPARK_EMPTY = '·';

/** Totals of nothing, for a group or answer without them. */
export const EMPTY_TOTALS: Totals = {
  builds: 0,
  steps: 0,
  cachedSteps: 0,
  hitRatio: 0,
  savedMs: 0,
  buildMs: 0,
  bytesDeduplicated: 0,
  bytesUploaded: 0,
  failedBuilds: 0,
};

/** `82.4%`; `–` when there were no steps to hit. */
export function percentText(ratio: number, steps = 1): string {
  if (steps <= 0 || !Number.isFinite(ratio)) return '–';
  return `${(Math.min(1, Math.max(0, ratio)) * 100).toFixed(1)}%`;
}

/** A duration that reads well in a column: `0s`, `12.5s`, `4m3s`, `1h12m`, `3d4h`. */
export function spanText(ms: number): string {
  if (!(ms > 0)) return '0s';
  const s = Math.round(ms / 1000);
  if (s >= 86_400) return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return formatDuration(ms);
}

/** How long before `nowMs` a time was: `12s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function agoText(ms: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** `hourly`, `daily`, `per 5m`: the step between buckets, '' with fewer than two. */
export function bucketText(series: readonly Bucket[]): string {
  if (series.length < 2) return '';
  const step = (series[1]?.startMs ?? 0) - (series[0]?.startMs ?? 0);
  if (step === 86_400_000) return 'daily';
  if (step === 3_600_000) return 'hourly';
  if (step >= 3_600_000 && step % 3_600_000 === 0) return `per ${step / 3_600_000}h`;
  if (step >= 60_000) return `per ${Math.round(step / 60_000)}m`;
  return '';
}

/**
 * The hit ratio of each bucket as one block glyph (`·` without steps), fit into `width` cells:
 * consecutive buckets are merged when there are more than cells, and each glyph is repeated (up
 * to 3 times) when there is room, so a week of daily buckets is not a 7-cell smudge.
 */
export function sparkline(series: readonly Bucket[], width: number): string {
  if (width <= 0 || series.length === 0) return '';
  const per = Math.ceil(series.length / width);
  const merged: { steps: number; cached: number }[] = [];
  // Merge from the newest end so the last cell is always the current bucket alone when possible.
  for (let end = series.length; end > 0; end -= per) {
    let steps = 0;
    let cached = 0;
    for (const b of series.slice(Math.max(0, end - per), end)) {
      steps += b.steps;
      cached += b.cachedSteps;
    }
    merged.unshift({ steps, cached });
  }
  const repeat = Math.max(1, Math.min(3, Math.floor(width / merged.length)));
  return merged
    .map(({ steps, cached }) => {
      if (steps <= 0) return SPARK_EMPTY.repeat(repeat);
      const level = Math.round(Math.min(1, cached / steps) * (SPARK_LEVELS.length - 1));
      return (SPARK_LEVELS[level] ?? SPARK_EMPTY).repeat(repeat);
    })
    .join('');
}

/** `143 builds (3 failed)`. */
export function buildsText(t: Totals): string {
  const n = `${t.builds} build${t.builds === 1 ? '' : 's'}`;
  return t.failedBuilds > 0 ? `${n} (${t.failedBuilds} failed)` : n;
}

/** The team totals as label/value pairs, in display order; `short` labels for narrow screens. */
export function totalsPairs(t: Totals, short = false): [string, string][] {
  return [
    [short ? 'hit' : 'hit ratio', percentText(t.hitRatio, t.steps)],
    [short ? 'saved' : 'time saved', spanText(t.savedMs)],
    ['', buildsText(t)],
    [short ? 'dedup' : 'deduplicated', formatBytes(t.bytesDeduplicated)],
  ];
}

/** `files 10 · arg 2 · Dockerfile 1`: a buster's causes, most frequent first. */
export function causeBreakdown(b: Buster): string {
  return [...b.causes]
    .sort((x, y) => y.count - x.count || x.kind.localeCompare(y.kind))
    .map((c) => `${CAUSE_KIND_LABELS[c.kind] ?? c.kind} ${c.count}`)
    .join(' · ');
}

/** What a buster cost in all: its own rebuilds and those of the steps its misses invalidated. */
export function busterCostMs(b: Pick<Buster, 'costMs' | 'cascadeCostMs'>): number {
  return Number(b.costMs) + Number(b.cascadeCostMs ?? 0);
}

/** Busters costliest first (then most misses, project, step): the order Stats ranks them in. */
export function rankBusters<
  B extends Pick<Buster, 'project' | 'step' | 'misses' | 'costMs' | 'cascadeCostMs'>,
>(busters: readonly B[]): B[] {
  return [...busters].sort(
    (a, b) =>
      busterCostMs(b) - busterCostMs(a) ||
      Number(b.misses) - Number(a.misses) ||
      a.project.localeCompare(b.project) ||
      a.step.localeCompare(b.step),
  );
}

/** `4 misses → 12 steps rebuilt`: a buster's misses and the rebuilds they caused; `3 misses` without any. */
export function busterMissText(b: Pick<Buster, 'misses' | 'cascadedMisses'>): string {
  const misses = Number(b.misses);
  const rebuilt = Number(b.cascadedMisses ?? 0);
  const own = `${misses} miss${misses === 1 ? '' : 'es'}`;
  return rebuilt > 0 ? `${own} → ${rebuilt} step${rebuilt === 1 ? '' : 's'} rebuilt` : own;
}

/**
 * `invalidated: RUN npm ci, RUN npm run build (37.0s)`: the steps a buster's latest miss
 * invalidated and what all its invalidated steps cost; '' when it invalidated none.
 */
export function invalidatedText(b: Pick<Buster, 'invalidated' | 'cascadeCostMs' | 'cascadedMisses'>): string {
  if (!(Number(b.cascadedMisses ?? 0) > 0)) return '';
  const steps = (b.invalidated ?? []).join(', ');
  return `invalidated: ${steps || 'later steps'} (${spanText(Number(b.cascadeCostMs ?? 0))})`;
}

/**
 * A buster's suggestion with the advisor's rule it comes from, as `depot stats` and the dashboard
 * show it: `fix (copy-before-install): copy package.json … first`; the suggestion alone when no
 * rule is named; '' when there is none.
 */
export function suggestionText(b: Pick<Buster, 'suggestion' | 'rule'>): string {
  if (!b.suggestion) return '';
  return b.rule ? `fix (${b.rule}): ${b.suggestion}` : b.suggestion;
}

/** A stats table column: header, value of a group's totals, and how it aligns. */
export interface StatsColumn {
  header: string;
  value: (t: Totals) => string;
  /** dropped first when the table is too wide: higher goes first */
  dropOrder: number;
}

/** Columns of the by-project / by-user tables after the key. */
export const STATS_COLUMNS: readonly StatsColumn[] = [
  { header: 'BUILDS', value: (t) => String(t.builds), dropOrder: 0 },
  { header: 'HIT', value: (t) => percentText(t.hitRatio, t.steps), dropOrder: 0 },
  { header: 'SAVED', value: (t) => spanText(t.savedMs), dropOrder: 0 },
  { header: 'CACHED', value: (t) => `${t.cachedSteps}/${t.steps}`, dropOrder: 3 },
  { header: 'BUILD TIME', value: (t) => spanText(t.buildMs), dropOrder: 2 },
  { header: 'DEDUP', value: (t) => formatBytes(t.bytesDeduplicated), dropOrder: 1 },
  { header: 'UPLOADED', value: (t) => formatBytes(t.bytesUploaded), dropOrder: 4 },
  { header: 'FAILED', value: (t) => String(t.failedBuilds), dropOrder: 5 },
];

/** Groups most-building first (then by key), with totals filled in. */
export function sortedGroups(res: StatsResponseWire): { key: string; totals: Totals }[] {
  return res.groups
    .map((g) => ({ key: g.key || '(none)', totals: g.totals ?? EMPTY_TOTALS }))
    .sort((a, b) => b.totals.builds - a.totals.builds || a.key.localeCompare(b.key));
}

/**
 * A plain table of the groups: the key column then every column that fits `width` (at least
 * BUILDS, HIT and SAVED); cells right-aligned, two spaces apart. Returns the lines, header first.
 */
export function statsTable(res: StatsResponseWire, keyHeader: string, width: number): string[] {
  const groups = sortedGroups(res);
  const cells = (c: StatsColumn) => [c.header, ...groups.map((g) => c.value(g.totals))];
  const colWidth = (c: StatsColumn) => Math.max(...cells(c).map((x) => x.length));
  const keyWidth = Math.min(24, Math.max(keyHeader.length, ...groups.map((g) => g.key.length)));
  let columns = [...STATS_COLUMNS];
  const total = () => keyWidth + columns.reduce((n, c) => n + 2 + colWidth(c), 0);
  while (total() > width) {
    const drop = columns.reduce<StatsColumn | undefined>(
      (best, c) => (c.dropOrder > 0 && (!best || c.dropOrder > best.dropOrder) ? c : best),
      undefined,
    );
    if (!drop) break;
    columns = columns.filter((c) => c !== drop);
  }
  const keyCell = (k: string) => (k.length > keyWidth ? `${k.slice(0, keyWidth - 1)}…` : k.padEnd(keyWidth));
  const row = (key: string, values: string[]) =>
    keyCell(key) + values.map((v, i) => `  ${v.padStart(colWidth(columns[i]!))}`).join('');
  return [
    row(
      keyHeader,
      columns.map((c) => c.header),
    ),
    ...groups.map((g) =>
      row(
        g.key,
        columns.map((c) => c.value(g.totals)),
      ),
    ),
  ];
}

/** How much of a build id a list shows (a shorter start names the build when no other shares it). */
export const BUILD_ID_SHORT = 12;
/** The columns of a list of recorded builds (`depot history ls`, the dashboard's project builds). */
export const BUILD_TABLE_HEAD = [
  'ID',
  'STARTED',
  'DURATION',
  'PLATFORM',
  'TARGET',
  'RESULT',
  'CACHED',
  'SAVED',
  'BUILDER',
] as const;

/** One recorded build's cells under BUILD_TABLE_HEAD (a `*` marks a cut trace). */
export function buildRecordCells(r: BuildRecordWire, nowMs: number): string[] {
  const s = r.summary!;
  const finished = Number(s.finishedMs);
  return [
    s.buildId.slice(0, BUILD_ID_SHORT),
    agoText(Number(s.startedMs), nowMs),
    finished > 0 ? formatDuration(Math.max(0, finished - Number(s.startedMs))) : '-',
    s.platform || '-',
    r.target || '-',
    s.result + (r.traceCut ? '*' : ''),
    `${s.cachedSteps}/${s.steps}`,
    spanText(Number(s.savedMs)),
    s.builder || '-',
  ];
}
