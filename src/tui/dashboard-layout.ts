import type { BuildSummaryWire, StatsResponseWire } from '../session/client.js';
import {
  DASHBOARD_VIEWS,
  DASHBOARD_WINDOWS,
  type DashboardState,
  type DashboardView,
} from './dashboard-state.js';
import { ageText, clockText } from './dev-format.js';
import { fitSegments, type Segment, segmentsWidth } from './segments.js';
import {
  bucketText,
  busterCostMs,
  busterMissText,
  causeBreakdown,
  EMPTY_TOTALS,
  invalidatedText,
  percentText,
  rankBusters,
  spanText,
  sparkline,
  statsTable,
  suggestionText,
  totalsPairs,
} from './stats-format.js';
import { padEnd, sanitize, truncate } from './text.js';

/** One line of the dashboard: styled segments that fit the width. */
export interface DashboardLine {
  key: string;
  segments: Segment[];
}

/** Options of layoutDashboard. */
export interface DashboardLayoutOptions {
  width: number;
  /** lines available; the layout never returns more */
  rows: number;
  /** clock for running builds' durations and ages */
  nowMs: number;
}

/** The key hint at the bottom. */
export const DASHBOARD_KEY_HINT = '1 2 3/w window · tab/v view · r refresh · q quit';

/** Rows of each list on the overview, at most. */
const OVERVIEW_BUILDS = 4;
const OVERVIEW_GROUPS = 3;
const OVERVIEW_BUSTERS = 2;

const VIEW_TITLES: Record<DashboardView, string> = {
  overview: 'overview',
  projects: 'projects',
  users: 'users',
  busters: 'busters',
};

const line = (key: string, segments: Segment[], width: number): DashboardLine => ({
  key,
  segments: fitSegments(segments, width),
});
const blank = (key: string): DashboardLine => ({ key, segments: [] });

/** Left segments, then right ones pushed to the last column when both fit (else the left ones only). */
function spread(left: Segment[], right: Segment[], width: number): Segment[] {
  const lw = segmentsWidth(left);
  const rw = segmentsWidth(right);
  if (rw === 0 || lw + 2 + rw > width) return fitSegments(left, width);
  return [...left, { text: ' '.repeat(width - lw - rw) }, ...right];
}

function statusSegments(state: DashboardState): Segment[] {
  const out: Segment[] = [];
  if (state.error) out.push({ text: truncate(state.error, 48), color: 'red' });
  else if (state.loading && state.updatedMs === 0) out.push({ text: 'loading…', dim: true });
  else if (state.updatedMs > 0) out.push({ text: `updated ${clockText(state.updatedMs)}`, dim: true });
  if (out.length > 0) out.push({ text: ' · ', dim: true });
  out.push(
    state.watch === 'live'
      ? { text: '● live', color: 'green' }
      : state.watch === 'lost'
        ? { text: '○ watch lost', color: 'yellow' }
        : { text: '○ connecting', dim: true },
  );
  return out;
}

function headerLines(state: DashboardState, width: number): DashboardLine[] {
  const title: Segment[] = [{ text: 'depot dashboard', bold: true }];
  if (state.builderUrl) title.push({ text: ` · ${sanitize(state.builderUrl)}`, dim: true });
  const tabs: Segment[] = [];
  for (const w of DASHBOARD_WINDOWS) {
    tabs.push({ text: ` ${w} `, inverse: w === state.window, bold: w === state.window });
  }
  tabs.push({ text: ' │', dim: true });
  for (const v of DASHBOARD_VIEWS) {
    tabs.push({ text: ` ${VIEW_TITLES[v]} `, inverse: v === state.view, bold: v === state.view });
  }
  return [line('header', spread(title, statusSegments(state), width), width), line('tabs', tabs, width)];
}

function totalsLine(res: StatsResponseWire | null, width: number): DashboardLine {
  if (!res) return line('totals', [{ text: 'waiting for the builder…', dim: true }], width);
  const t = res.totals ?? EMPTY_TOTALS;
  const segments = (short: boolean) => {
    const segs: Segment[] = [];
    totalsPairs(t, short).forEach(([label, value], i) => {
      if (i > 0) segs.push({ text: ' · ', dim: true });
      if (label) segs.push({ text: `${label} `, dim: true });
      segs.push({ text: value, bold: true, color: i === 0 ? 'green' : undefined });
    });
    return segs;
  };
  const long = segments(false);
  return line('totals', segmentsWidth(long) <= width ? long : segments(true), width);
}

function sparkLines(res: StatsResponseWire, width: number): DashboardLine[] {
  const every = bucketText(res.series);
  const label = `hit rate${every ? ` (${every})` : ''} `;
  const last = [...res.series].reverse().find((b) => b.steps > 0);
  const tail = last ? ` ${percentText(last.cachedSteps / last.steps)} now` : '';
  const room = width - label.length - tail.length;
  if (res.series.length === 0 || room < 4)
    return [
      line(
        'spark',
        [
          { text: label, dim: true },
          { text: 'no builds in this window', dim: true },
        ],
        width,
      ),
    ];
  return [
    line(
      'spark',
      [
        { text: label, dim: true },
        { text: sparkline(res.series, room), color: 'green' },
        { text: tail, dim: true },
      ],
      width,
    ),
  ];
}

/** Width from which a fleet's build lines show the platform beside the builder. */
const FLEET_PLATFORM_WIDTH = 100;

function buildLine(b: BuildSummaryWire, nowMs: number, width: number, fleet: boolean): DashboardLine {
  const running = b.result === 'running' || b.result === '';
  const glyph: Segment = running
    ? { text: '● ', color: 'cyan' }
    : b.result === 'ok'
      ? { text: '✔ ', color: 'green' }
      : b.result === 'cancelled'
        ? { text: '- ', color: 'yellow' }
        : { text: '✖ ', color: 'red' };
  // A fleet's builds name their builder; the platform goes first when the line is short of room.
  const columns = [padEnd(sanitize(b.project || '-'), 14), padEnd(sanitize(b.user || '-'), 10)];
  if (fleet) columns.push(padEnd(sanitize(b.builder || '-'), 12));
  if (!fleet || width >= FLEET_PLATFORM_WIDTH) columns.push(padEnd(sanitize(b.platform), 12));
  const who = columns.join(' ');
  const steps = b.steps > 0 ? `${b.cachedSteps}/${b.steps} cached` : 'starting';
  const when = running
    ? spanText(Math.max(0, nowMs - b.startedMs))
    : `${b.result}${b.savedMs > 0 ? ` · saved ${spanText(b.savedMs)}` : ''} · ${ageText(Math.max(0, nowMs - b.finishedMs))}`;
  return line(
    `build-${b.buildId}`,
    spread(
      [glyph, { text: who }, { text: ` ${steps}`, dim: !running }],
      [{ text: when, dim: !running }],
      width,
    ),
    width,
  );
}

function buildsSection(state: DashboardState, max: number, width: number, nowMs: number): DashboardLine[] {
  const title = `builds · ${state.running.length} running`;
  const shown = [...state.running.slice(0, max)];
  const room = Math.max(0, max - shown.length);
  const rows = [...shown, ...state.recent.slice(0, room)].map((b) => buildLine(b, nowMs, width, state.fleet));
  if (rows.length === 0)
    return [
      line(
        'builds-title',
        [
          { text: title, bold: true },
          { text: ' · none recently', dim: true },
        ],
        width,
      ),
    ];
  return [line('builds-title', [{ text: title, bold: true }], width), ...rows];
}

function tableSection(
  res: StatsResponseWire | null,
  name: 'project' | 'user',
  max: number,
  width: number,
): DashboardLine[] {
  if (!res) return [line(`${name}-loading`, [{ text: `by ${name}: loading…`, dim: true }], width)];
  if (res.groups.length === 0)
    return [line(`${name}-none`, [{ text: `by ${name}: no builds in this window`, dim: true }], width)];
  const [header = '', ...rows] = statsTable(res, name.toUpperCase(), width - 2);
  const more = rows.length - max;
  const shown = more > 0 ? rows.slice(0, Math.max(0, max - 1)) : rows;
  const out = [
    line(`${name}-header`, [{ text: `  ${header}`, dim: true, bold: true }], width),
    ...shown.map((r, i) => line(`${name}-${i}`, [{ text: `  ${r}` }], width)),
  ];
  if (more > 0)
    out.push(line(`${name}-more`, [{ text: `  … ${rows.length - shown.length} more`, dim: true }], width));
  return out;
}

function bustersSection(
  res: StatsResponseWire | null,
  max: number,
  width: number,
  detail: boolean,
): DashboardLine[] {
  const title = line('busters-title', [{ text: 'top cache busters', bold: true }], width);
  if (!res) return [title];
  if (res.busters.length === 0)
    return [
      line(
        'busters-none',
        [
          { text: 'top cache busters', bold: true },
          { text: ' · none', dim: true },
        ],
        width,
      ),
    ];
  const out = [title];
  const busters = rankBusters(res.busters).slice(0, max);
  busters.forEach((b, i) => {
    // The root step, then what its misses cost with the rebuilds of the steps they invalidated.
    const right: Segment[] = [{ text: `${busterMissText(b)} · cost ${spanText(busterCostMs(b))}` }];
    const left = fitSegments(
      [
        { text: `${i + 1}. ${sanitize(b.step)}`, color: 'yellow' },
        { text: `  ${sanitize(b.project)}`, dim: true },
      ],
      // The numbers stay: a long instruction is cut instead.
      Math.max(12, width - segmentsWidth(right) - 2),
    );
    out.push(line(`buster-${i}`, spread(left, right, width), width));
    const causes = causeBreakdown(b);
    if (detail && causes)
      out.push(line(`buster-${i}-causes`, [{ text: `   causes: ${causes}`, dim: true }], width));
    const invalidated = invalidatedText(b);
    if (detail && invalidated)
      out.push(line(`buster-${i}-invalidated`, [{ text: `   ${sanitize(invalidated)}`, dim: true }], width));
    if (b.suggestion)
      out.push(
        line(`buster-${i}-tip`, [{ text: `   → ${sanitize(suggestionText(b))}`, color: 'cyan' }], width),
      );
    else if (!detail && causes)
      out.push(line(`buster-${i}-causes`, [{ text: `   ${causes}`, dim: true }], width));
  });
  return out;
}

/**
 * Stacks sections into `rows` lines, a blank line between them, in order; a section that does
 * not fit whole is cut (its first lines kept) when at least two of its lines fit, else dropped.
 */
function stack(sections: DashboardLine[][], rows: number): DashboardLine[] {
  const out: DashboardLine[] = [];
  sections.forEach((section, i) => {
    if (section.length === 0) return;
    const gap = out.length > 0 ? 1 : 0;
    const left = rows - out.length - gap;
    if (left < Math.min(2, section.length)) return;
    if (gap) out.push(blank(`gap-${i}`));
    out.push(...section.slice(0, left));
  });
  return out;
}

/** The stats answer whose totals, series and busters the views show (both groupings carry them). */
function main(state: DashboardState): StatsResponseWire | null {
  return state.byProject ?? state.byUser;
}

function body(state: DashboardState, width: number, rows: number, nowMs: number): DashboardLine[] {
  const res = main(state);
  switch (state.view) {
    case 'projects':
      return stack([tableSection(state.byProject, 'project', rows - 1, width)], rows);
    case 'users':
      return stack([tableSection(state.byUser, 'user', rows - 1, width)], rows);
    case 'busters': {
      // Each buster takes up to four lines.
      return stack([bustersSection(res, Math.max(1, Math.floor((rows - 1) / 4)), width, true)], rows);
    }
    default: {
      const sections: DashboardLine[][] = [];
      if (res) sections.push(sparkLines(res, width));
      sections.push(buildsSection(state, OVERVIEW_BUILDS, width, nowMs));
      sections.push(tableSection(state.byProject, 'project', OVERVIEW_GROUPS + 1, width));
      sections.push(bustersSection(res, OVERVIEW_BUSTERS, width, false));
      return stack(sections, rows);
    }
  }
}

/**
 * The whole dashboard as at most `rows` lines of at most `width` cells: header (title, status,
 * window and view tabs), team totals, the view's body, and the key hint at the bottom.
 */
export function layoutDashboard(state: DashboardState, o: DashboardLayoutOptions): DashboardLine[] {
  const width = Math.max(20, o.width);
  const head = [...headerLines(state, width), totalsLine(main(state), width)];
  const hint = line('hint', [{ text: DASHBOARD_KEY_HINT, dim: true }], width);
  if (o.rows <= head.length + 1) return [...head, hint].slice(0, Math.max(0, o.rows));
  const room = o.rows - head.length - 2;
  const lines = [...head, blank('head-gap'), ...body(state, width, room, o.nowMs)];
  while (lines.length < o.rows - 1) lines.push(blank(`fill-${lines.length}`));
  lines.push(hint);
  return lines;
}

/** Plain text of a laid-out line (tests). */
export function dashboardLineText(l: DashboardLine): string {
  return l.segments.map((s) => s.text).join('');
}
