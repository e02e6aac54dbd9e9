import type { BuildSummaryWire, StatsResponseWire } from '../session/client.js';
import {
  type BuildsDrill,
  DASHBOARD_VIEWS,
  DASHBOARD_WINDOWS,
  type DashboardState,
  type DashboardView,
  OVERVIEW_BUILDS,
  overviewBuilds,
  type ReplayDrill,
  selectableItems,
  selectedKey,
} from './dashboard-state.js';
import { ageText, clockText } from './dev-format.js';
import { layoutReplayScreen } from './replay-layout.js';
import { fitSegments, type Segment, segmentsWidth } from './segments.js';
import {
  BUILD_TABLE_HEAD,
  bucketText,
  buildRecordCells,
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
/** The key hint when the view has something to open. */
export const DASHBOARD_SELECT_HINT =
  '↑↓ select · enter open · 1 2 3/w window · tab/v view · r refresh · q quit';
/** The key hint of a project's builds. */
export const DRILL_BUILDS_HINT = '↑↓ select · enter replay · esc/q back';
/** The key hint of a replay opened from the dashboard. */
export const DRILL_REPLAY_HINT = '↑↓ select · enter details · w waterfall · i BuildKit steps · esc/q back';

/** Rows of each list on the overview, at most. */
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

/** A selected row: a `›` in its gutter cell and the rest in inverse video, as the layer graph marks it. */
function marked(gutter: Segment, rest: Segment[], on: boolean): Segment[] {
  if (!on) return [gutter, ...rest];
  const text = gutter.text.length > 1 ? `${gutter.text.slice(0, -1)}›` : '›';
  return [{ ...gutter, text, color: 'cyan', bold: true }, ...rest.map((x) => ({ ...x, inverse: true }))];
}

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

function buildLine(
  b: BuildSummaryWire,
  nowMs: number,
  width: number,
  fleet: boolean,
  selected = false,
): DashboardLine {
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
  const [first, ...rest] = spread(
    [glyph, { text: who }, { text: ` ${steps}`, dim: !running }],
    [{ text: when, dim: !running }],
    width,
  );
  return line(`build-${b.buildId}`, first ? marked(first, rest, selected) : [], width);
}

function buildsSection(state: DashboardState, max: number, width: number, nowMs: number): DashboardLine[] {
  const title = `builds · ${state.running.length} running`;
  const builds = overviewBuilds(state).slice(0, max);
  const chosen = selectedKey(selectableItems(state), state.selected);
  const rows = builds.map((b) => buildLine(b, nowMs, width, state.fleet, b.buildId === chosen));
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
  selected = -1,
): DashboardLine[] {
  if (!res) return [line(`${name}-loading`, [{ text: `by ${name}: loading…`, dim: true }], width)];
  if (res.groups.length === 0)
    return [line(`${name}-none`, [{ text: `by ${name}: no builds in this window`, dim: true }], width)];
  const [header = '', ...rows] = statsTable(res, name.toUpperCase(), width - 2);
  const more = rows.length - max;
  const room = more > 0 ? Math.max(0, max - 1) : rows.length;
  // The selected row stays in view: the rows scroll under it.
  const start = Math.max(0, Math.min(selected - room + 1, rows.length - room));
  const shown = rows.slice(start, start + room);
  const out = [
    line(`${name}-header`, [{ text: `  ${header}`, dim: true, bold: true }], width),
    ...shown.map((r, i) =>
      line(`${name}-${start + i}`, marked({ text: '  ' }, [{ text: r }], start + i === selected), width),
    ),
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
  selected = -1,
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
  const ranked = rankBusters(res.busters);
  const start = Math.max(0, Math.min(selected - max + 1, ranked.length - max));
  ranked.slice(start, start + max).forEach((b, at) => {
    const i = start + at;
    // The root step, then what its misses cost with the rebuilds of the steps they invalidated.
    const right: Segment[] = [{ text: `${busterMissText(b)} · cost ${spanText(busterCostMs(b))}` }];
    const left = fitSegments(
      [
        { text: `${i + 1}. `, color: 'yellow' },
        { text: sanitize(b.step), color: 'yellow' },
        { text: `  ${sanitize(b.project)}`, dim: true },
      ],
      // The numbers stay: a long instruction is cut instead.
      Math.max(12, width - segmentsWidth(right) - 2),
    );
    const [num, ...rest] = spread(left, right, width);
    out.push(line(`buster-${i}`, num ? marked(num, rest, i === selected) : [], width));
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
  const items = selectableItems(state);
  const chosen = selectedKey(items, state.selected);
  const at = items.findIndex((i) => i.key === chosen);
  switch (state.view) {
    case 'projects':
      return stack([tableSection(state.byProject, 'project', rows - 1, width, at)], rows);
    case 'users':
      return stack([tableSection(state.byUser, 'user', rows - 1, width)], rows);
    case 'busters': {
      // Each buster takes up to four lines.
      return stack([bustersSection(res, Math.max(1, Math.floor((rows - 1) / 4)), width, true, at)], rows);
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
  if (state.drill?.kind === 'replay') return replayScreen(state, state.drill, width, o);
  const head = [...headerLines(state, width), totalsLine(main(state), width)];
  if (state.drill)
    return fill(
      [...head, blank('head-gap'), ...drillBuilds(state.drill, width, o)],
      o,
      DRILL_BUILDS_HINT,
      width,
    );
  const selectable = selectableItems(state).length > 0;
  const hint = line(
    'hint',
    [{ text: selectable ? DASHBOARD_SELECT_HINT : DASHBOARD_KEY_HINT, dim: true }],
    width,
  );
  if (o.rows <= head.length + 1) return [...head, hint].slice(0, Math.max(0, o.rows));
  const room = o.rows - head.length - 2;
  const lines = [...head, blank('head-gap'), ...body(state, width, room, o.nowMs)];
  while (lines.length < o.rows - 1) lines.push(blank(`fill-${lines.length}`));
  lines.push(hint);
  return lines;
}

/** `lines` cut or padded to the screen, the hint on its last row. */
function fill(
  lines: DashboardLine[],
  o: DashboardLayoutOptions,
  hint: string,
  width: number,
): DashboardLine[] {
  const rows = Math.max(0, o.rows);
  const out = lines.slice(0, Math.max(0, rows - 1));
  while (out.length < rows - 1) out.push(blank(`fill-${out.length}`));
  if (rows > 0) out.push(line('hint', [{ text: hint, dim: true }], width));
  return out;
}

/** A project's recent builds, as `depot history ls` lists them, the selected one marked. */
function drillBuilds(d: BuildsDrill, width: number, o: DashboardLayoutOptions): DashboardLine[] {
  const title: Segment[] = [{ text: `recent builds of ${sanitize(d.project)}`, bold: true }];
  if (d.step) {
    title.push({ text: ' where ' }, { text: sanitize(d.step), color: 'yellow' }, { text: ' missed' });
  }
  const out = [line('drill-title', title, width)];
  if (d.status === 'loading')
    return [...out, line('drill-loading', [{ text: 'loading…', dim: true }], width)];
  if (d.status === 'failed')
    return [...out, line('drill-error', [{ text: sanitize(d.error), color: 'red' }], width)];
  if (d.builds.length === 0)
    return [...out, line('drill-none', [{ text: 'no builds recorded', dim: true }], width)];
  const cells = d.builds.map((r) => buildRecordCells(r, o.nowMs).map(sanitize));
  const head = [...BUILD_TABLE_HEAD];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const row = (c: string[]) =>
    c
      .map((x, i) => (i === c.length - 1 ? x : padEnd(x, widths[i]!)))
      .join('  ')
      .trimEnd();
  const chosen = selectedKey(
    d.builds.map((r) => ({ key: r.summary?.buildId ?? '' })),
    d.selected,
  );
  const at = d.builds.findIndex((r) => r.summary?.buildId === chosen);
  // Title, head, and the hint's row below: the rest scrolls with the selection.
  const room = Math.max(1, o.rows - 6 - 2);
  const start = Math.max(0, Math.min(at - room + 1, d.builds.length - room));
  out.push(line('drill-head', [{ text: `  ${row(head)}`, dim: true, bold: true }], width));
  cells.slice(start, start + room).forEach((c, k) => {
    const i = start + k;
    const failed = d.builds[i]?.summary?.result === 'failed';
    out.push(
      line(
        `drill-${i}`,
        marked({ text: '  ' }, [{ text: row(c), color: failed ? 'red' : undefined }], i === at),
        width,
      ),
    );
  });
  return out;
}

/** A build replayed inside the dashboard: the screen of `depot history show`, or its loading state. */
function replayScreen(
  state: DashboardState,
  d: ReplayDrill,
  width: number,
  o: DashboardLayoutOptions,
): DashboardLine[] {
  if (d.status === 'loaded' && d.build && d.title)
    return layoutReplayScreen(d.build, d.ui, {
      width,
      rows: o.rows,
      title: d.title,
      notes: d.notes,
      nowMs: o.nowMs,
      hint: DRILL_REPLAY_HINT,
    }).map((segments, i) => ({ key: `replay-${i}`, segments }));
  const head = headerLines(state, width).slice(0, 1);
  const status =
    d.status === 'failed'
      ? line('replay-error', [{ text: sanitize(d.error), color: 'red' }], width)
      : line('replay-loading', [{ text: `loading build ${d.buildId.slice(0, 12)}…`, dim: true }], width);
  return fill([...head, blank('head-gap'), status], o, DRILL_REPLAY_HINT, width);
}

/** Plain text of a laid-out line (tests). */
export function dashboardLineText(l: DashboardLine): string {
  return l.segments.map((s) => s.text).join('');
}
