import {
  type BuildState,
  formatDuration,
  type StepPhase,
  type StepState,
  stepPhase,
} from '../progress/index.js';
import type { Segment } from './segments.js';
import { cellWidth, padEnd, sanitize, truncate } from './text.js';

/**
 * The build as a waterfall: every step that started (or was answered from the cache) as a bar on
 * one time axis from the build's start to its end (or now), and the critical path — the chain of
 * steps each waiting on the input that finished last — that made the build as long as it was.
 */

/** One row of the waterfall, laid out to the width. */
export interface WaterfallRow {
  digest: string;
  phase: StepPhase;
  /** `#N` padded */
  number: string;
  /** the instruction, cut and padded to the name column */
  name: string;
  /** the bar: `lead` spaces, `bar` cells, `trail` spaces; together the axis width */
  lead: number;
  bar: string;
  trail: number;
  /** duration (or `CACHED`), padded to the right column */
  right: string;
  /** on the critical path */
  critical: boolean;
}

/** The whole waterfall: rows, the axis line under them, and what the critical path took. */
export interface WaterfallLayout {
  rows: WaterfallRow[];
  /** `0s` at the left, the span at the right, aligned under the bars */
  axis: string;
  /** the build's span so far */
  spanMs: number;
  /** digests of the critical path, in order */
  critical: string[];
  /** time the critical path's steps ran (the rest of the span is waiting: sync, scheduling) */
  criticalMs: number;
  /** cells before the bars (number, name and the space after them) */
  barStart: number;
}

/** Cells a bar is drawn with, by phase: done and failed solid, running shaded, cached a tick. */
export const BAR = { done: '█', failed: '█', running: '▒', cached: '▏', canceled: '░' } as const;

const MIN_AXIS = 12;
const RIGHT_WIDTH = 7;

/**
 * Steps on the time axis: Dockerfile steps that started or were answered from the cache, and the
 * engine's own vertices (`load build context`, `exporting to image`) when they took a twentieth of
 * the build or more; in order of start.
 */
function placed(state: BuildState, spanMs: number, nowMs: number): StepState[] {
  const took = (s: StepState) => (s.startedMs > 0 ? (s.completedMs || nowMs) - s.startedMs : 0);
  return state.steps
    .filter((s) => (s.stepIndex > 0 ? s.startedMs > 0 || s.cached : took(s) * 20 >= spanMs))
    .slice()
    .sort((a, b) => start(a, state) - start(b, state) || a.number - b.number);
}

function start(s: StepState, state: BuildState): number {
  return s.startedMs > 0 ? s.startedMs : s.completedMs > 0 ? s.completedMs : state.startedMs;
}

/**
 * The critical path: from the Dockerfile step that finished last, back through the input each step waited
 * for longest (the one that finished last before it started), to a step with no such input.
 */
export function criticalPath(state: BuildState, nowMs: number = state.nowMs): string[] {
  const end = (s: StepState) => (s.completedMs > 0 ? s.completedMs : s.startedMs > 0 ? nowMs : 0);
  const byDigest = new Map(state.steps.map((s) => [s.digest, s]));
  let last: StepState | undefined;
  // From the Dockerfile step that ended last (the engine's `exporting to image` names no inputs).
  for (const s of state.steps) if (s.stepIndex > 0 && end(s) > 0 && (!last || end(s) > end(last))) last = s;
  const path: string[] = [];
  const seen = new Set<string>();
  while (last && !seen.has(last.digest)) {
    seen.add(last.digest);
    path.push(last.digest);
    let next: StepState | undefined;
    for (const d of last.inputs) {
      const input = byDigest.get(d);
      if (input && end(input) > 0 && (!next || end(input) > end(next))) next = input;
    }
    last = next;
  }
  return path.reverse();
}

/**
 * Lays the waterfall out to `width` cells: `#N name │bar│ right`. The axis takes what the name
 * column leaves (at least 12 cells, at most half the row); each bar starts and ends at its
 * step's times scaled to it, a running bar grows to `nowMs`, a cache hit is a tick.
 */
export function layoutWaterfall(
  state: BuildState,
  width: number,
  nowMs: number = state.nowMs,
): WaterfallLayout {
  const t0 =
    state.startedMs > 0
      ? state.startedMs
      : Math.min(nowMs, ...state.steps.filter((s) => s.startedMs > 0).map((s) => s.startedMs));
  const tEnd = state.finishedMs > 0 ? state.finishedMs : nowMs;
  const spanMs = Math.max(1, tEnd - t0);
  const steps = placed(state, spanMs, nowMs);
  const critical = criticalPath(state, nowMs);
  const onPath = new Set(critical);
  const numWidth = Math.max(3, ...steps.map((s) => `#${s.number}`.length));
  const axisWidth = Math.max(
    MIN_AXIS,
    Math.min(Math.floor(width * 0.5), width - numWidth - 1 - 16 - RIGHT_WIDTH - 2),
  );
  const nameWidth = Math.max(0, width - numWidth - 1 - axisWidth - 2 - RIGHT_WIDTH);
  const cell = (t: number) => Math.round(((t - t0) / spanMs) * axisWidth);
  let criticalMs = 0;
  const rows = steps.map((s): WaterfallRow => {
    const phase = stepPhase(s);
    const from = start(s, state);
    const to = s.completedMs > 0 ? s.completedMs : phase === 'running' ? nowMs : from;
    let lead = Math.min(axisWidth - 1, Math.max(0, cell(from)));
    const cells = phase === 'cached' ? 1 : Math.max(1, cell(to) - lead);
    if (lead + cells > axisWidth) lead = axisWidth - cells;
    const glyph = phase === 'waiting' ? ' ' : BAR[phase];
    const ran = s.startedMs > 0 && !s.cached ? Math.max(0, to - s.startedMs) : 0;
    if (onPath.has(s.digest)) criticalMs += ran;
    const right = phase === 'cached' ? 'CACHED' : formatDuration(ran);
    return {
      digest: s.digest,
      phase,
      number: `#${s.number}`.padEnd(numWidth),
      name: padEnd(truncate(sanitize(s.instruction || s.name), nameWidth), nameWidth),
      lead: Math.max(0, lead),
      bar: glyph.repeat(cells),
      trail: Math.max(0, axisWidth - Math.max(0, lead) - cells),
      right: right.padStart(RIGHT_WIDTH),
      critical: onPath.has(s.digest),
    };
  });
  const barStart = numWidth + 1 + nameWidth + 1;
  const spanText = formatDuration(spanMs);
  const axis = `${' '.repeat(barStart)}0s${' '.repeat(Math.max(1, axisWidth - 2 - cellWidth(spanText)))}${spanText}`;
  return { rows, axis, spanMs, critical, criticalMs, barStart };
}

/**
 * The rows a waterfall of `maxRows` shows: the critical path's steps and the running ones first,
 * then the latest to start, kept in start order.
 */
export function waterfallWindow(rows: readonly WaterfallRow[], maxRows: number): WaterfallRow[] {
  if (rows.length <= maxRows) return rows.slice();
  const keep = new Set<number>();
  const take = (i: number) => {
    if (keep.size < maxRows) keep.add(i);
  };
  rows.forEach((r, i) => {
    if (r.phase === 'running' || r.phase === 'failed') take(i);
  });
  rows.forEach((r, i) => {
    if (r.critical && r.phase !== 'cached') take(i);
  });
  for (let i = rows.length - 1; i >= 0; i--) take(i);
  return [...keep].sort((a, b) => a - b).map((i) => rows[i]!);
}

/**
 * `took 12.3s · critical path 9.8s (4 steps)`, and once the builder told the cold durations of the
 * steps the cache answered (their last uncached run, from its history): `· cold ~41.0s · saved ~28.7s`.
 * Cold is this build's span plus what the cached steps would have run; parallel steps would have
 * overlapped, so it is an upper bound the builder's own history keeps honest.
 */
export function waterfallSummary(state: BuildState, layout: WaterfallLayout): string {
  const running = state.result === null;
  const parts = [`${running ? 'running' : 'took'} ${formatDuration(layout.spanMs)}`];
  const ran = layout.rows.filter((r) => r.critical && r.phase !== 'cached').length;
  if (ran > 0)
    parts.push(`critical path ${formatDuration(layout.criticalMs)} (${ran} step${ran === 1 ? '' : 's'})`);
  const saved = savedMs(state);
  if (saved > 0)
    parts.push(`cold ~${formatDuration(layout.spanMs + saved)}`, `saved ~${formatDuration(saved)}`);
  return parts.join(' · ');
}

/** What the cache saved this build so far: the cold durations of the steps it answered. */
export function savedMs(state: BuildState): number {
  let saved = 0;
  for (const s of state.steps) if (s.cached) saved += s.coldMs;
  return saved;
}

const BAR_COLOR = {
  done: 'green',
  cached: 'blue',
  running: 'cyan',
  failed: 'red',
  canceled: 'yellow',
  waiting: 'gray',
} as const;

/** What waterfallLines needs besides the state. */
export interface WaterfallLineOptions {
  width: number;
  nowMs: number;
  /** rows of bars at most (the critical path and running steps first); all when absent */
  maxRows?: number;
  /** spinner frame at the head of running bars ('' for none) */
  frame: string;
}

/**
 * The waterfall as styled lines (one set for `depot build`'s view and `depot dev`'s): a bar per
 * step — its critical-path mark `┃` in the text, so it reads without colours too — then how many
 * were left out, the axis, and what the build took, its critical path and what the cache saved.
 */
export function waterfallLines(state: BuildState, o: WaterfallLineOptions): Segment[][] {
  const layout = layoutWaterfall(state, o.width, o.nowMs);
  const rows = o.maxRows === undefined ? layout.rows : waterfallWindow(layout.rows, o.maxRows);
  const out: Segment[][] = rows.map((row) => {
    const head = row.phase === 'running' && o.frame ? o.frame : '';
    const bar = head ? row.bar.slice(0, Math.max(0, row.bar.length - 1)) + head : row.bar;
    return [
      { text: `${row.number} `, dim: true },
      { text: row.name, bold: row.critical },
      { text: row.critical ? '┃' : '│', dim: !row.critical },
      { text: ' '.repeat(row.lead) },
      { text: bar, color: row.critical ? 'magenta' : BAR_COLOR[row.phase], bold: row.critical },
      { text: ' '.repeat(row.trail) },
      { text: '│', dim: true },
      row.phase === 'cached' ? { text: row.right, color: 'blue' } : { text: row.right, dim: true },
    ];
  });
  const hidden = layout.rows.length - rows.length;
  if (hidden > 0)
    out.push([
      { text: `${' '.repeat(layout.barStart)}… ${hidden} more step${hidden === 1 ? '' : 's'}`, dim: true },
    ]);
  out.push([{ text: layout.axis, dim: true }]);
  out.push([{ text: waterfallSummary(state, layout) }]);
  return out;
}
