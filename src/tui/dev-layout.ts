/**
 * The `depot dev` screen as a list of lines that fit a width and a height: a pure function of
 * DevState, so that the Ink view only maps lines to <Text> and tests can check the budget.
 */
import type { CurrentBuild, DevState } from '../dev/types.js';
import { formatDuration, type ProgressFigures, stepPhase, summarize } from '../progress/index.js';
import {
  builderText,
  containerSegments,
  failedText,
  focusedStep,
  outcomeGlyph,
  pendingText,
  rebuiltMark,
  recordSegments,
  sessionSegments,
  snapshotText,
  triggerText,
  watchSegments,
  wholeText,
  windowRows,
} from './dev-format.js';
import { buildCauseText, GLYPH_LEGEND, layoutLanes } from './lane-layout.js';
import { progressLineText } from './progress-line.js';
import { fitSegments, type Segment, segmentsText, segmentsWidth } from './segments.js';
import { stepDetailsLines } from './step-details.js';
import { cellWidth, padEnd, sanitize, wrap } from './text.js';
import { waterfallLines } from './waterfall-layout.js';

/** One line of the screen (a blank block may span several). */
export type DevLine =
  | { kind: 'text'; key: string; segments: Segment[] }
  | { kind: 'blank'; key: string; rows: number };

/** What the layout needs besides the state. */
export interface DevLayoutOptions {
  /** columns; no line is wider */
  width: number;
  /** lines the screen may use; it never uses more */
  rows: number;
  /** the clock for ages, countdowns and running durations */
  nowMs: number;
  /** spinner frame for running things ('' for none) */
  frame: string;
}

/** The footer's key hint. */
export const DEV_KEY_HINT = 'r rebuild · ↑↓ select · enter details · p pause · q quit · ? help';
/** The key that lists or folds BuildKit's own steps. */
export const UNFOLD_KEY = 'i';
/** Container log lines under the container line. */
export const CONTAINER_LOG_LINES = 3;
/** Log lines shown under a failed step inside the graph (the logs panel shows more). */
export const INLINE_FAILED_LOG_LINES = 5;
/** Scrollback lines kept in view even when the graph could use them. */
const MIN_SCROLLBACK_LINES = 3;
/** Graph lines served before the scrollback and the container's logs. */
const MIN_GRAPH_LINES = 5;
/** Body lines below which the pending line, the second header line and the container line go. */
const MIN_BODY_LINES = 3;
/** Lines an error (a bad ignore file, a container that failed) may wrap onto. */
export const ERROR_LINES = 4;

/** The help overlay's rows: key, what it does. */
export const DEV_KEYS: readonly (readonly [string, string])[] = [
  ['r', 'rebuild now'],
  ['↑ ↓  k j', 'select a step'],
  ['enter', "the selected step's details and logs / the builds"],
  ['i', "list / fold BuildKit's own steps"],
  ['w', 'where the time went: waterfall / graph'],
  ['p', 'pause / resume watching'],
  ['q  ctrl-c', 'quit (removes the --run container)'],
  ['?  esc', 'close this help'],
];

/** `left … right`: right-aligned when both fit, else the left part cut (right dropped when tight). */
function spread(left: Segment[], right: Segment[], width: number): Segment[] {
  const lw = segmentsWidth(left);
  const rw = segmentsWidth(right);
  if (rw === 0) return fitSegments(left, width);
  if (lw + 1 + rw <= width) return [...left, { text: ' '.repeat(width - lw - rw) }, ...right];
  if (rw + 1 + 16 <= width) return [...fitSegments(left, width - rw - 1), { text: ' ' }, ...right];
  return fitSegments(left, width);
}

const text = (key: string, segments: Segment[], width: number): DevLine => ({
  kind: 'text',
  key,
  segments: fitSegments(segments, width),
});

function headerLines(state: DevState, o: DevLayoutOptions): Segment[][] {
  // The parts that change come first, so a narrow terminal cuts the ones that do not.
  const first: Segment[] = [
    { text: 'depot dev', bold: true },
    { text: ' · ', dim: true },
    ...sessionSegments(state.session),
    { text: ' · ', dim: true },
    { text: sanitize(builderText(state.session)) },
  ];
  const second: Segment[] = [
    ...watchSegments(state.watch, o.nowMs),
    { text: ' · ', dim: true },
    { text: snapshotText(state.snapshot, o.nowMs), dim: !state.snapshot.syncing },
  ];
  // A bad ignore file fails the sync too: its own line says it once.
  const ignoreError = state.watch.ignoreError ?? '';
  if (
    state.snapshot.error &&
    !state.snapshot.syncing &&
    !(ignoreError && state.snapshot.error.includes(ignoreError))
  )
    second.push({ text: ` · ${failedText('sync', state.snapshot.error)}`, color: 'red' });
  if (segmentsWidth(first) + 3 + segmentsWidth(second) <= o.width)
    return [[...first, { text: ' · ', dim: true }, ...second]];
  return [first, second];
}

function triggerLine(state: DevState, o: DevLayoutOptions): Segment[] {
  const cur = state.current;
  if (!cur) {
    const why =
      state.session.kind === 'connected'
        ? state.snapshot.syncing
          ? 'syncing the context'
          : 'waiting for the first build'
        : 'waiting for the builder';
    return [
      { text: o.frame || '◌', color: 'cyan' },
      { text: ` no build yet · ${why}`, dim: true },
    ];
  }
  const running = cur.record.outcome === 'running';
  const after = afterBuildText(cur);
  const glyph: Segment =
    running || after ? { text: o.frame || '·', color: 'cyan' } : outcomeGlyph(cur.record.outcome);
  const left: Segment[] = [
    glyph,
    { text: ` build #${cur.record.seq}`, bold: true },
    { text: ` · ${triggerText(cur.record.trigger)}` },
  ];
  const right: Segment[] = [
    ...(after ? [{ text: `${after} · `, color: 'cyan' as const }] : []),
    { text: buildTotals(cur, o.nowMs), dim: !running },
  ];
  return spread(left, right, o.width);
}

/** `steps 9/12 · cached 4 · 1.5s` while running, `12 steps · 8 cached · 1.2s` after. */
function buildTotals(cur: CurrentBuild, nowMs: number): string {
  // Dockerfile steps only, as every summary counts them (summarize).
  const { steps, cached, seen } = summarize(cur.build);
  const end = cur.record.outcome === 'running' ? graphClock(cur, nowMs) : cur.record.finishedMs;
  const took = formatDuration(Math.max(0, end - cur.record.startedMs));
  const why = buildCauseText(cur.build);
  const parts =
    cur.record.outcome !== 'running'
      ? [`${steps} step${steps === 1 ? '' : 's'}`, `${cached} cached`]
      : [`steps ${steps}/${seen}`, `cached ${cached}`];
  return [...parts, ...(why ? [why] : []), took].join(' · ');
}

/** The sync or load under way with reported progress (the dev screen's progress bar), else null. */
export function devWorkInProgress(state: DevState): { label: string; figures: ProgressFigures } | null {
  const p = state.snapshot.progress;
  if (state.snapshot.syncing && p) return { label: p.phase, figures: p };
  const cur = state.current;
  if (cur?.phase === 'loading' && cur.loadProgress) return { label: 'loading', figures: cur.loadProgress };
  return null;
}

/** `loading image…` / `starting container…` after a good build, else ''. */
export function afterBuildText(cur: CurrentBuild): string {
  if (cur.record.outcome !== 'ok') return '';
  if (cur.phase === 'loading') return 'loading image…';
  if (cur.phase === 'starting') return 'starting container…';
  return '';
}

/** The clock of a build's durations: it moves while the build runs, and stops at its end. */
function graphClock(cur: CurrentBuild, nowMs: number): number {
  return cur.record.outcome === 'running' && cur.build.result === null
    ? Math.max(cur.build.nowMs, nowMs)
    : cur.build.nowMs;
}

function graphLines(state: DevState, cur: CurrentBuild, o: DevLayoutOptions, budget: number): DevLine[] {
  if (budget <= 0) return [];
  const build = cur.build;
  if (build.steps.length === 0) {
    const msg = cur.record.outcome === 'running' ? 'waiting for the builder to report steps…' : 'no steps';
    return [text('graph-empty', [{ text: `  ${msg}`, dim: true }], o.width)];
  }
  if (state.ui.showWaterfall) {
    // The bars that fit besides the axis, the summary and a `… more` line.
    const lines = waterfallLines(build, {
      width: o.width,
      nowMs: graphClock(cur, o.nowMs),
      frame: o.frame,
      maxRows: Math.max(1, budget - 3),
    });
    return lines.slice(-budget).map((segs, i) => text(`waterfall-${i}`, segs, o.width));
  }
  const focus = build.steps[focusedStep(build, state.ui.selectedStep)]?.digest ?? '';
  const marks: Record<string, string> = {};
  for (const [digest, paths] of Object.entries(cur.rebuiltBecause)) marks[digest] = rebuiltMark(paths);
  // Leave room for the focused row, a neighbour and the indicators before showing logs inline.
  const lines = layoutLanes(build, {
    width: o.width,
    nowMs: graphClock(cur, o.nowMs),
    frame: o.frame,
    unfold: state.ui.showInternal,
    unfoldKey: UNFOLD_KEY,
    selected: state.ui.selectedStep >= 0 ? focus : undefined,
    marks,
    logLines: Math.max(0, Math.min(INLINE_FAILED_LOG_LINES, budget - 4)),
    // A build that ended (cancelled, or failed elsewhere) leaves no step running.
    over: cur.record.outcome !== 'running',
  });
  const at = lines.findIndex((l) => l.digests.includes(focus));
  const w = windowRows(
    lines.map(() => 1),
    at < 0 ? lines.length - 1 : at,
    budget,
  );
  const stepsOf = (from: number, to: number) => {
    const digests = new Set(lines.slice(from, to).flatMap((l) => l.digests));
    return build.steps.filter((s) => digests.has(s.digest));
  };
  const out: DevLine[] = [];
  if (w.above) {
    const hidden = stepsOf(0, w.start);
    const cached = hidden.filter((s) => stepPhase(s) === 'cached').length;
    const n = hidden.length;
    out.push(
      text(
        'graph-above',
        [
          {
            text: `  ↑ ${n} earlier step${n === 1 ? '' : 's'}${cached ? ` (${cached} cached)` : ''}`,
            dim: true,
          },
        ],
        o.width,
      ),
    );
  }
  for (const line of lines.slice(w.start, w.end))
    out.push({ kind: 'text', key: `graph-${line.key}`, segments: fitSegments(line.segments, o.width) });
  if (w.below) {
    const hidden = stepsOf(w.end, lines.length);
    const waiting = hidden.filter((s) => stepPhase(s) === 'waiting').length;
    const what = waiting === hidden.length ? 'waiting' : 'below';
    const n = hidden.length;
    out.push(
      text('graph-below', [{ text: `  ↓ ${n} more step${n === 1 ? '' : 's'} ${what}`, dim: true }], o.width),
    );
  }
  return out.slice(0, budget);
}

function scrollbackLines(state: DevState, o: DevLayoutOptions): DevLine[] {
  const records = state.history.filter((r) => r.outcome !== 'running');
  const cur = state.current?.record;
  // The reducer may keep a finished build as `current` only, or in the history as well.
  if (cur && cur.outcome !== 'running' && !records.some((r) => r.seq === cur.seq)) records.push(cur);
  records.sort((a, b) => a.seq - b.seq);
  return records.map((r) => {
    const base = recordSegments(r);
    const why: Segment = { text: ` · ${triggerText(r.trigger, 1)}`, dim: true };
    const withWhy = segmentsWidth(base) + segmentsWidth([why]) <= o.width ? [...base, why] : base;
    return text(`build-${r.seq}`, withWhy, o.width);
  });
}

/**
 * The selected (or focused) step's details in `rows` lines: command, cause and changed files,
 * cache key, layer size and the tail of its logs (step-details.ts, shared with BuildView).
 */
function detailsPanelLines(state: DevState, o: DevLayoutOptions, rows: number): DevLine[] {
  const cur = state.current;
  const focus = cur ? focusedStep(cur.build, state.ui.selectedStep) : -1;
  const step = cur && focus >= 0 ? cur.build.steps[focus] : undefined;
  if (rows <= 0) return [];
  if (!cur || !step)
    return [text('details-title', [{ text: 'details · no step selected', dim: true }], o.width)];
  const lines = stepDetailsLines(cur.build, step, {
    width: o.width,
    rows,
    nowMs: graphClock(cur, o.nowMs),
    frame: o.frame,
    over: cur.record.outcome !== 'running',
    hint: 'enter closes',
    changed: cur.rebuiltBecause[step.digest],
  });
  return lines.map((segments, i) => text(i === 0 ? 'details-title' : `details-${i}`, segments, o.width));
}

function helpLines(o: DevLayoutOptions): DevLine[] {
  const keyWidth = Math.max(...DEV_KEYS.map(([k]) => cellWidth(k)));
  const inner = Math.max(10, Math.min(o.width - 4, 60));
  const border = (l: string, r: string, title = '') =>
    `${l}${title}${'─'.repeat(Math.max(0, inner + 2 - cellWidth(title)))}${r}`;
  const lines: Segment[][] = [[{ text: border('╭', '╮', '─ keys '), color: 'cyan' }]];
  for (const [key, what] of DEV_KEYS) {
    const body = padEnd(`${padEnd(key, keyWidth)}  ${what}`, inner);
    lines.push([
      { text: '│ ', color: 'cyan' },
      { text: body.slice(0, keyWidth), bold: true },
      { text: body.slice(keyWidth) },
      { text: ' │', color: 'cyan' },
    ]);
  }
  // What the graph's glyphs mean, under the keys.
  for (const l of wrap(GLYPH_LEGEND, inner))
    lines.push([
      { text: '│ ', color: 'cyan' },
      { text: padEnd(l, inner), dim: true },
      { text: ' │', color: 'cyan' },
    ]);
  lines.push([{ text: border('╰', '╯'), color: 'cyan' }]);
  return lines.map((segs, i) => text(`help-${i}`, segs, o.width));
}

function footerLine(state: DevState, o: DevLayoutOptions): Segment[] {
  if (state.quitting) return [{ text: 'quitting…', color: 'yellow' }];
  const keys: [string, string][] = [
    ['r', 'rebuild'],
    ['↑↓', 'select'],
    ['enter', state.ui.showLogs ? 'builds' : 'details'],
    ['w', state.ui.showWaterfall ? 'graph' : 'waterfall'],
    ['p', state.watch.status === 'paused' ? 'resume' : 'pause'],
    ['q', 'quit'],
    ['?', 'help'],
  ];
  const segs: Segment[] = [];
  keys.forEach(([k, what], i) => {
    if (i > 0) segs.push({ text: ' · ', dim: true });
    segs.push({ text: k, bold: true }, { text: ` ${what}`, dim: true });
  });
  return fitSegments(segs, o.width);
}

/**
 * The whole screen, top to bottom: header (1–2 lines), the current build's trigger line, the
 * pending build, the window of the layer graph around the selected or running step, blank
 * padding, the scrollback of finished builds (or the selected step's logs, or the help
 * overlay in place of graph and scrollback), the container and the key hint. Sections give
 * way from the least useful when the height is short; the total never exceeds `rows`.
 */
export function layoutDevScreen(state: DevState, o: DevLayoutOptions): DevLine[] {
  const rows = Math.max(1, Math.floor(o.rows));
  const width = Math.max(1, Math.floor(o.width));
  const opts = { ...o, width, rows };
  let header = headerLines(state, opts).map((segs, i) => text(`header-${i}`, segs, width));
  const trigger = [text('trigger', triggerLine(state, opts), width)];
  let pending = state.pending
    ? [text('pending', [{ text: `… ${pendingText(state.pending)}`, color: 'cyan' }], width)]
    : [];
  // Errors the user has to act on are shown whole, wrapped over a few lines.
  const wrapped = (key: string, segments: Segment[], color: Segment['color']): DevLine[] =>
    wrap(segmentsText(segments), width, ERROR_LINES).map((l, i) =>
      text(i === 0 ? key : `${key}-${i}`, [{ text: l, color }], width),
    );
  let ignore = state.watch.ignoreError
    ? wrapped('ignore', [{ text: `✖ ${wholeText(state.watch.ignoreError)}` }], 'red')
    : [];
  const work = devWorkInProgress(state);
  let progress = work
    ? [text('progress', [{ text: progressLineText(work.label, work.figures, width), color: 'cyan' }], width)]
    : [];
  const c = state.container;
  let containerHead = c
    ? c.status === 'failed'
      ? wrapped('container', containerSegments(c), 'red')
      : [text('container', containerSegments(c), width)]
    : [];
  // --sync: the rules in force, on one line under the container (cut to the width).
  if (c && state.syncRules?.length)
    containerHead = [
      ...containerHead,
      text('sync-rules', [{ text: `  ⇄ sync ${sanitize(state.syncRules.join(' · '))}`, dim: true }], width),
    ];
  const containerLogLines = c
    ? c.logs
        .slice(-CONTAINER_LOG_LINES)
        .map((l, i) => text(`container-log-${i}`, [{ text: `  │ ${sanitize(l)}`, dim: true }], width))
    : [];
  const footer = [text('footer', footerLine(state, opts), width)];
  const fixed = () =>
    header.length +
    trigger.length +
    progress.length +
    pending.length +
    ignore.length +
    containerHead.length +
    footer.length;
  // On short screens the one-line facts give way so the graph keeps a few rows.
  if (rows - fixed() < MIN_BODY_LINES) pending = [];
  if (rows - fixed() < MIN_BODY_LINES) progress = [];
  if (rows - fixed() < MIN_BODY_LINES) ignore = ignore.slice(0, 1);
  if (rows - fixed() < MIN_BODY_LINES) containerHead = containerHead.slice(0, 1);
  if (rows - fixed() < MIN_BODY_LINES && header.length > 1) {
    const merged = headerLines(state, { ...opts, width: Number.POSITIVE_INFINITY }).flatMap((segs, i) =>
      i === 0 ? segs : [{ text: ' · ', dim: true }, ...segs],
    );
    header = [text('header-0', merged, width)];
  }
  if (rows - fixed() < MIN_BODY_LINES) containerHead = [];
  let room = Math.max(0, rows - fixed());

  let body: DevLine[];
  let containerLogs: DevLine[] = [];
  if (state.ui.showHelp) {
    body = helpLines(opts).slice(0, room);
    containerLogs = containerHead.length > 0 ? containerLogLines.slice(0, room - body.length) : [];
    const pad = room - body.length - containerLogs.length;
    if (pad > 0) body.push({ kind: 'blank', key: 'pad', rows: pad });
  } else {
    // The details panel fits the rows it gets (its logs give way first): its natural size is its
    // size with the whole room.
    const lower = state.ui.showLogs ? detailsPanelLines(state, opts, room) : scrollbackLines(state, opts);
    const graphNatural = state.current ? graphLines(state, state.current, opts, rows).length : 0;
    // Who gets the rows, in turn: a few graph rows, a few lower rows, the container's logs,
    // then the rest of the graph, then the rest of the lower panel; blank padding after.
    const take = (want: number) => {
      const n = Math.max(0, Math.min(want, room));
      room -= n;
      return n;
    };
    const lowerWant = state.ui.showLogs
      ? Math.max(MIN_SCROLLBACK_LINES, Math.ceil(room / 2))
      : MIN_SCROLLBACK_LINES;
    let graphRoom = take(Math.min(graphNatural, MIN_GRAPH_LINES));
    let lowerRoom = take(Math.min(lower.length, lowerWant));
    const logRoom = containerHead.length > 0 ? take(containerLogLines.length) : 0;
    graphRoom += take(graphNatural - graphRoom);
    lowerRoom += take(lower.length - lowerRoom);
    containerLogs = logRoom > 0 ? containerLogLines.slice(-logRoom) : [];
    const graph = state.current ? graphLines(state, state.current, opts, graphRoom) : [];
    // The details are laid out again for their rows; the scrollback shows the latest builds.
    let shownLower: DevLine[];
    if (lowerRoom <= 0) shownLower = [];
    else if (state.ui.showLogs) shownLower = detailsPanelLines(state, opts, lowerRoom);
    else shownLower = lower.slice(-lowerRoom);
    const pad = room + graphRoom - graph.length + lowerRoom - shownLower.length;
    body = [
      ...graph,
      ...(pad > 0 ? [{ kind: 'blank', key: 'pad', rows: pad } as DevLine] : []),
      ...shownLower,
    ];
  }
  const all = [
    ...header,
    ...trigger,
    ...progress,
    ...pending,
    ...ignore,
    ...body,
    ...containerHead,
    ...containerLogs,
    ...footer,
  ];
  // Only a screen shorter than header, trigger and footer gets here with too many lines.
  const out: DevLine[] = [];
  let used = 0;
  for (const line of all) {
    const h = line.kind === 'blank' ? line.rows : 1;
    if (used + h > rows) break;
    out.push(line);
    used += h;
  }
  return out;
}

/** Lines the layout occupies. */
export function devLinesHeight(lines: readonly DevLine[]): number {
  return lines.reduce((n, l) => n + (l.kind === 'blank' ? l.rows : 1), 0);
}
