/**
 * The screen of `depot history show` in a terminal: a recorded build's layer graph (or its
 * waterfall), the selected step's details and the summary, as lines that fit a width and a height.
 * Pure: the Ink view maps the lines to text, keys become commands applied by `applyReplayCommand`.
 */
import type { DevCommand } from '../dev/types.js';
import { type BuildState, formatDuration, graphOrder } from '../progress/index.js';
import { summaryText } from './BuildSummary.js';
import { focusedStep, outcomeGlyph, windowRows } from './dev-format.js';
import { lanesOf, layoutLanes } from './lane-layout.js';
import { fitSegments, type Segment, segmentsWidth } from './segments.js';
import { agoText } from './stats-format.js';
import { stepDetailsLines } from './step-details.js';
import { sanitize } from './text.js';
import { waterfallLines } from './waterfall-layout.js';

/** What the reader of a replay chose to see. */
export interface ReplayUi {
  /** index into `state.steps` of the selected step; -1 for none (the failed or last one is shown) */
  selected: number;
  /** the selected step's details (command, cause, log tail) under the graph */
  details: boolean;
  /** the waterfall instead of the graph */
  waterfall: boolean;
  /** BuildKit's own steps listed rather than folded */
  internal: boolean;
}

export const INITIAL_REPLAY_UI: ReplayUi = {
  selected: -1,
  details: false,
  waterfall: false,
  internal: false,
};

/** What the header says about the recorded build (from its record, not its events). */
export interface ReplayTitle {
  buildId: string;
  result: string;
  platform: string;
  target: string;
  builder: string;
  startedMs: number;
  finishedMs: number;
}

/** The key hint at the bottom. */
export const REPLAY_KEY_HINT = '↑↓ select · enter details · w waterfall · i BuildKit steps · q quit';
/** Graph rows kept in view even when the details could use them. */
const MIN_GRAPH_ROWS = 4;

/** The steps ↑/↓ move through, as `state.steps` indexes, in the graph's order. */
export function replayOrder(state: BuildState, ui: Pick<ReplayUi, 'internal'>): number[] {
  return graphOrder(lanesOf(state), ui.internal).map((s) => state.stepIndex[s.digest] ?? -1);
}

/**
 * The ui after a key's command (dev-keys.ts: the same keys as `depot dev`), or 'quit'. Rebuild
 * and pause mean nothing in a replay and change nothing.
 */
export function applyReplayCommand(ui: ReplayUi, command: DevCommand, state: BuildState): ReplayUi | 'quit' {
  switch (command.type) {
    case 'quit/requested':
      return 'quit';
    case 'step/moved': {
      const order = replayOrder(state, ui);
      if (order.length === 0) return ui;
      const at = order.indexOf(ui.selected >= 0 ? ui.selected : focusedStep(state, -1));
      const from = at < 0 ? (command.delta > 0 ? -1 : order.length) : at;
      const selected = order[Math.min(order.length - 1, Math.max(0, from + command.delta))] ?? -1;
      return { ...ui, selected };
    }
    case 'logs/toggled':
      return { ...ui, details: !ui.details };
    case 'waterfall/toggled':
      return { ...ui, waterfall: !ui.waterfall };
    case 'internal/toggled': {
      const next = { ...ui, internal: !ui.internal };
      // A step folded away is no longer selected.
      return replayOrder(state, next).includes(next.selected) ? next : { ...next, selected: -1 };
    }
    default:
      return ui;
  }
}

/** Options of layoutReplayScreen. */
export interface ReplayLayoutOptions {
  width: number;
  /** lines the screen may use; it never uses more */
  rows: number;
  title: ReplayTitle;
  /** what the replay says besides the build (a cut trace) */
  notes?: readonly string[];
  /** the clock "… ago" is told from */
  nowMs: number;
  /** the key hint at the bottom (default REPLAY_KEY_HINT) */
  hint?: string;
}

const line = (segments: Segment[], width: number): Segment[] => fitSegments(segments, width);

function headerLine(t: ReplayTitle, o: ReplayLayoutOptions): Segment[] {
  const glyph = outcomeGlyph(
    t.result === 'ok' || t.result === 'failed' || t.result === 'cancelled' ? t.result : 'running',
  );
  const left: Segment[] = [
    glyph,
    { text: ` build ${t.buildId.slice(0, 12)}`, bold: true },
    { text: ` · ${t.result}` },
    ...(t.platform ? [{ text: ` · ${t.platform}` }] : []),
    ...(t.target ? [{ text: ` · target ${sanitize(t.target)}` }] : []),
    ...(t.builder ? [{ text: ` · on ${sanitize(t.builder)}`, dim: true }] : []),
  ];
  const took = t.finishedMs > 0 ? ` · ${formatDuration(Math.max(0, t.finishedMs - t.startedMs))}` : '';
  const right: Segment[] = [{ text: `${agoText(t.startedMs, o.nowMs)}${took}`, dim: true }];
  const lw = segmentsWidth(left);
  const rw = segmentsWidth(right);
  if (lw + 1 + rw <= o.width) return [...left, { text: ' '.repeat(o.width - lw - rw) }, ...right];
  return line(left, o.width);
}

function graphRows(state: BuildState, ui: ReplayUi, focus: string, o: ReplayLayoutOptions, budget: number) {
  if (budget <= 0) return [];
  if (state.steps.length === 0) return [[{ text: '  no steps were recorded', dim: true }]];
  if (ui.waterfall)
    return waterfallLines(state, {
      width: o.width,
      nowMs: state.nowMs,
      frame: '',
      maxRows: Math.max(1, budget - 3),
    })
      .slice(-budget)
      .map((s) => line(s, o.width));
  const lines = layoutLanes(state, {
    width: o.width,
    nowMs: state.nowMs,
    frame: '',
    unfold: ui.internal,
    unfoldKey: 'i',
    selected: ui.selected >= 0 ? focus : undefined,
    logLines: Math.max(0, Math.min(5, budget - 4)),
    over: true,
  });
  const at = lines.findIndex((l) => l.digests.includes(focus));
  const w = windowRows(
    lines.map(() => 1),
    at < 0 ? lines.length - 1 : at,
    budget,
  );
  const count = (from: number, to: number) =>
    new Set(
      lines
        .slice(from, to)
        .flatMap((l) => l.digests)
        .filter((d) => d !== focus),
    ).size;
  const out: Segment[][] = [];
  if (w.above) out.push([{ text: `  ↑ ${count(0, w.start)} earlier steps`, dim: true }]);
  for (const l of lines.slice(w.start, w.end)) out.push(line(l.segments, o.width));
  if (w.below) out.push([{ text: `  ↓ ${count(w.end, lines.length)} more steps`, dim: true }]);
  return out.slice(0, budget);
}

/**
 * The whole screen, top to bottom: the header (the build's outcome, platform, target, builder,
 * when and how long), notes, the graph (or waterfall) windowed around the selected step, the
 * details of the selected step (enter), the summary line and the key hint. Never more than `rows`
 * lines; the details give way to keep a few graph rows, and their log keeps its last lines.
 */
export function layoutReplayScreen(state: BuildState, ui: ReplayUi, o: ReplayLayoutOptions): Segment[][] {
  const width = Math.max(1, Math.floor(o.width));
  const rows = Math.max(1, Math.floor(o.rows));
  const opts = { ...o, width, rows };
  const header = [headerLine(o.title, opts)];
  const notes = (o.notes ?? []).map((n) => line([{ text: `! ${n}`, color: 'yellow' }], width));
  const result = state.result;
  const summary: Segment[][] = [line([{ text: summaryText(state, state.nowMs, width), dim: true }], width)];
  if (result && !result.ok && result.error)
    summary.unshift(
      line([{ text: `✖ ${sanitize(result.error.split('\n')[0] ?? '')}`, color: 'red' }], width),
    );
  const footer = [line([{ text: o.hint ?? REPLAY_KEY_HINT, dim: true }], width)];
  let room = Math.max(0, rows - header.length - footer.length - summary.length - notes.length);
  const focusIndex = focusedStep(state, ui.selected);
  const focused = focusIndex >= 0 ? state.steps[focusIndex] : undefined;
  let shownDetails: Segment[][] = [];
  if (ui.details && focused) {
    // The details take up to half the room (and a few rows more), leaving the graph a few rows.
    const detailRoom = Math.min(Math.max(0, room - MIN_GRAPH_ROWS), Math.ceil(room / 2) + 4);
    shownDetails = stepDetailsLines(state, focused, {
      width,
      rows: detailRoom,
      nowMs: state.nowMs,
      over: true,
      hint: 'enter closes',
    });
    room -= shownDetails.length;
  }
  const graph = graphRows(state, ui, focused?.digest ?? '', opts, room);
  const pad = Math.max(
    0,
    rows - header.length - notes.length - graph.length - shownDetails.length - summary.length - footer.length,
  );
  return [
    ...header,
    ...notes,
    ...graph,
    ...Array.from({ length: pad }, () => [] as Segment[]),
    ...shownDetails,
    ...summary,
    ...footer,
  ].slice(0, rows);
}
