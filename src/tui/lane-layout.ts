/**
 * The layer graph as lines of segments: BuildKit's own vertices folded into a header line, then
 * one lane per Dockerfile stage (its FROM on the lane's first row, its steps under it, the stages
 * it reads and feeds as `← build` / `→ final`), the exporter folded into a last line. Lanes that
 * may run at the same time (no lane between them) stand side by side on wide terminals and one
 * under the other on narrow ones. Pure: `depot build`, `depot dev` and replays draw these lines.
 *
 * Every step's state reads without colours: `✔` a cache hit, `●` a step that ran (a miss), a
 * spinner while it runs, `✖` failed, `-` cancelled, `·` waiting; the right column says `CACHED`,
 * the time or `CANCELED`. A miss whose inputs changed shows its cause (`⟳ src/app.js changed`);
 * a miss that only followed another says `because #N`. A step whose layer size is known shows it
 * before the right column where that cuts none of the row's text.
 */

import { stagePlan } from '../dockerfile/index.js';
import {
  type BuildState,
  buildLanes,
  buildWideCause,
  formatBytes,
  formatDuration,
  type InternalGroup,
  isBuildWideCause,
  isStepFinished,
  type Lane,
  type LaneGraph,
  type StepPhase,
  type StepState,
  shortCauseText,
  stepPhase,
  syncedText,
  visibleLogText,
} from '../progress/index.js';
import { fitSegments, type Segment, segmentsWidth } from './segments.js';
import { cellWidth, padEnd, sanitize, truncate } from './text.js';

/** Log lines shown under a failed step. */
export const FAILED_LOG_LINES = 10;
/** Waiting steps listed per lane in a live view before the rest are counted. */
export const MAX_WAITING_ROWS = 3;
/** Columns from which lanes that may run at the same time stand side by side. */
export const WIDE_LANES_MIN_WIDTH = 120;
/** Narrowest column of a lane standing beside another. */
const MIN_LANE_WIDTH = 56;
/** Cells between lanes side by side. */
const LANE_GAP = 2;
/** Narrowest `#N` column: room for `#10` so the column does not shift at the tenth step. */
const MIN_NUMBER_WIDTH = 3;
/** Cells of the instruction a cause never takes away (less when the instruction is shorter). */
const MIN_INSTRUCTION_CELLS = 24;
/** A cause cut shorter than this says too little: leave it out. */
const MIN_CAUSE_CELLS = 10;
/** Marks the cause of a miss. */
export const CAUSE_MARK = '⟳';
/** Marks a step the smart cache reused. */
export const REUSED_MARK = '↺';

/** The glyph of each phase (a running step shows the spinner's frame instead). */
export const PHASE_GLYPH: Readonly<Record<StepPhase, string>> = {
  waiting: '·',
  running: '·',
  done: '●',
  cached: '✔',
  failed: '✖',
  canceled: '-',
};

const PHASE_COLOR: Readonly<Record<StepPhase, Segment['color']>> = {
  waiting: 'gray',
  running: 'cyan',
  done: 'yellow',
  cached: 'green',
  failed: 'red',
  canceled: 'yellow',
};

/** `✔ hit · ● ran · ✖ failed …`: what the glyphs mean (the help and the docs show it). */
export const GLYPH_LEGEND = '✔ hit  ● ran (miss)  ⠋ running  ✖ failed  - cancelled  · waiting';

/** What the layout needs besides the state. */
export interface LaneLayoutOptions {
  /** columns; no line is wider */
  width: number;
  /** the clock for running durations */
  nowMs: number;
  /** spinner frame for running steps ('' for none) */
  frame: string;
  /** list BuildKit's own vertices one per row instead of folding them into a line */
  unfold?: boolean;
  /** shown on the folded line: the key that unfolds it (interactive views) */
  unfoldKey?: string;
  /** digest of the selected step: a `›` after its glyph and the rest of its row in inverse video */
  selected?: string;
  /**
   * why a step ran as the client saw it (the dev view's `← src/app.js +2`), by digest; shown
   * where the builder explained nothing
   */
  marks?: Readonly<Record<string, string>>;
  /** a live view: at most MAX_WAITING_ROWS waiting rows per lane, the rest counted */
  live?: boolean;
  /** log lines under a failed step (default FAILED_LOG_LINES) */
  logLines?: number;
  /** the build ended, so a step still running was cancelled (default: the state has a result) */
  over?: boolean;
}

/** Which part of the graph a line belongs to: the unit `<Static>` prints. */
export type LaneBlock = 'head' | 'tail' | `band-${number}`;

/** One line of the graph, exactly `width` cells but for logs (shorter). */
export interface LaneLine {
  key: string;
  segments: Segment[];
  /** the steps the line shows (several on a line of lanes side by side) */
  digests: string[];
  block: LaneBlock;
  kind: 'head' | 'step' | 'log' | 'more' | 'tail';
}

/** The lane graph of a state, laid out. */
export function layoutLanes(
  state: BuildState,
  o: LaneLayoutOptions,
  graph: LaneGraph = lanesOf(state),
): LaneLine[] {
  const width = Math.max(1, Math.floor(o.width));
  const ctx: Ctx = {
    state,
    graph,
    o,
    over: o.over ?? state.result !== null,
    numWidth: Math.max(MIN_NUMBER_WIDTH, ...state.steps.map((s) => `#${s.number}`.length)),
  };
  const out: LaneLine[] = [];
  out.push(...groupLines(ctx, graph.head, 'head', width));
  laneBands(graph.lanes).forEach((band, i) => {
    out.push(...bandLines(ctx, band, `band-${i}`, width));
  });
  out.push(...groupLines(ctx, graph.tail, 'tail', width));
  return out;
}

/** The lanes of a state, with the stage plan of its Dockerfile when the stream carried it. */
export function lanesOf(state: BuildState): LaneGraph {
  return buildLanes(state, state.definition ? stagePlan(state.definition.dockerfile) : undefined);
}

/** Lanes grouped by level: the lanes of a band may run at the same time. */
export function laneBands(lanes: readonly Lane[]): Lane[][] {
  const bands: Lane[][] = [];
  for (const lane of lanes) {
    const last = bands[bands.length - 1];
    if (last && last[0]?.level === lane.level) last.push(lane);
    else bands.push([lane]);
  }
  return bands;
}

interface Ctx {
  state: BuildState;
  graph: LaneGraph;
  o: LaneLayoutOptions;
  /** the build ended: a step still running was cancelled */
  over: boolean;
  numWidth: number;
}

/** One row of a lane: exactly the lane's width. */
interface Cell {
  segments: Segment[];
  digests: string[];
  kind: LaneLine['kind'];
  /** log lines to print under the row (a failed step's) */
  logs: string[];
}

function phaseOf(ctx: Ctx, step: StepState): StepPhase {
  const phase = stepPhase(step);
  return ctx.over && phase === 'running' ? 'canceled' : phase;
}

/** The glyph of a phase in its colour; a running step shows the spinner's frame. */
export function phaseGlyph(phase: StepPhase, frame: string): Segment {
  const text = phase === 'running' ? frame || PHASE_GLYPH.running : PHASE_GLYPH[phase];
  return { text, color: PHASE_COLOR[phase] };
}

function glyphOf(ctx: Ctx, phase: StepPhase): Segment {
  return phaseGlyph(phase, ctx.o.frame);
}

/** `CACHED`, `CANCELED`, a duration, or `12.3MB/45.6MB 1.2s` while running. */
function rightText(step: StepState, phase: StepPhase, nowMs: number): string {
  switch (phase) {
    case 'cached':
      return 'CACHED';
    case 'canceled':
      return 'CANCELED';
    case 'waiting':
      return '';
    case 'running': {
      const parts: string[] = [];
      if (step.bytesTotal > 0)
        parts.push(`${formatBytes(step.bytesCurrent)}/${formatBytes(step.bytesTotal)}`);
      else if (step.bytesCurrent > 0) parts.push(formatBytes(step.bytesCurrent));
      parts.push(formatDuration(Math.max(0, nowMs - step.startedMs)));
      return parts.join(' ');
    }
    default:
      return formatDuration(step.startedMs > 0 ? step.completedMs - step.startedMs : 0);
  }
}

/**
 * The cause column of a step: `⟳ <cause>` on a miss whose own inputs changed, `because #N` on one
 * that only followed #N, `↺ smart cache` on a hit the smart cache reused, else the view's mark.
 */
function causeOf(ctx: Ctx, step: StepState, phase: StepPhase): Segment | null {
  const ran = phase === 'running' || phase === 'done' || phase === 'failed';
  if (phase === 'cached' && step.reused) return { text: `${REUSED_MARK} smart cache`, color: 'green' };
  if (!ran) return null;
  const root = ctx.graph.roots.get(step.digest);
  if (root) return { text: `because #${root.number}`, dim: true };
  if (step.cause && !isBuildWideCause(step.cause))
    return { text: `${CAUSE_MARK} ${sanitize(shortCauseText(step.cause))}`, color: 'yellow' };
  const mark = ctx.o.marks?.[step.digest];
  if (mark && !step.cause) return { text: sanitize(mark), color: 'yellow' };
  return null;
}

/**
 * A row of `w` cells: glyph, selection mark, `#N`, rail, the main text (cut first), its tag (kept
 * while the text keeps 12 cells), the cause (when it fits beside MIN_INSTRUCTION_CELLS of text),
 * the right column.
 */
function row(
  ctx: Ctx,
  w: number,
  r: {
    phase: StepPhase;
    number: string;
    rail: string;
    main: Segment[];
    tag: Segment | null;
    cause: Segment | null;
    right: string;
    selected: boolean;
    dimText: boolean;
    /** the glyph of another phase (BuildKit's own vertices that ran show `✔`: no cache question) */
    glyph?: StepPhase;
    /** the size of the step's layer, before the right column where the row has room for it */
    size?: string;
  },
): Segment[] {
  const number = padEnd(r.number, ctx.numWidth);
  const right = r.right ? ` ${r.right}` : '';
  const fixed = 2 + ctx.numWidth + 1 + cellWidth(r.rail) + cellWidth(right);
  let room = Math.max(0, w - fixed);
  const mainCells = segmentsWidth(r.main);
  const tagCells = r.tag ? cellWidth(r.tag.text) : 0;
  // The layer's size only where it costs nothing: the text, its tag and the cause keep every cell.
  const size = r.size && right ? ` ${r.size}` : '';
  const causeCells = r.cause ? cellWidth(r.cause.text) + 2 : 0;
  const showSize = size !== '' && room - cellWidth(size) - causeCells >= mainCells + tagCells;
  if (showSize) room -= cellWidth(size);
  let cause: Segment | null = null;
  if (r.cause) {
    const left = room - Math.min(mainCells + tagCells, MIN_INSTRUCTION_CELLS) - 2;
    if (left >= MIN_CAUSE_CELLS) cause = { ...r.cause, text: `  ${truncate(r.cause.text, left)}` };
  }
  const textRoom = room - (cause ? cellWidth(cause.text) : 0);
  let main: Segment[];
  let tag = r.tag;
  if (mainCells + tagCells <= textRoom) main = r.main;
  else if (tag && textRoom - tagCells >= 12) main = fitSegments(r.main, textRoom - tagCells);
  else {
    main = fitSegments(r.main, textRoom);
    tag = null;
  }
  const used = segmentsWidth(main) + (tag ? cellWidth(tag.text) : 0);
  const inv = r.selected;
  const body: Segment[] = [
    { text: number, dim: !inv, bold: inv },
    { text: ' ' },
    { text: r.rail, dim: !inv },
    ...main.map((s) => ({ ...s, dim: (s.dim || r.dimText) && !inv })),
    ...(tag ? [tag] : []),
    { text: ' '.repeat(Math.max(0, textRoom - used)) },
    ...(cause ? [cause] : []),
    ...(showSize ? [{ text: size, dim: !inv }] : []),
    {
      text: right,
      color:
        r.phase === 'cached'
          ? 'green'
          : r.phase === 'canceled'
            ? 'yellow'
            : r.phase === 'failed'
              ? 'red'
              : undefined,
      dim: !inv && r.phase !== 'cached' && r.phase !== 'running' && r.phase !== 'failed',
    },
  ];
  return [
    glyphOf(ctx, r.glyph ?? r.phase),
    inv ? { text: '›', color: 'cyan', bold: true } : { text: ' ' },
    ...body.filter((s) => s.text !== '').map((s) => (inv ? { ...s, inverse: true } : s)),
  ];
}

function failedLogs(ctx: Ctx, step: StepState, phase: StepPhase, width: number): string[] {
  const n = ctx.o.logLines ?? FAILED_LOG_LINES;
  if (phase !== 'failed' || n <= 0) return [];
  return step.logs.slice(-n).map((l) => truncate(`    │ ${sanitize(visibleLogText(l.text))}`, width));
}

/** `┌ ` on the lane's first row, `│ ` between, `└ ` on its last, `─ ` on a lane of one row. */
function rail(i: number, n: number): string {
  if (n === 1) return '─ ';
  return i === 0 ? '┌ ' : i === n - 1 ? '└ ' : '│ ';
}

/** The rows of one lane at `w` cells (with the full width for its logs). */
function laneCells(ctx: Ctx, lane: Lane, w: number, fullWidth: number): Cell[] {
  const o = ctx.o;
  type Pending = Omit<Parameters<typeof row>[2], 'rail'> & {
    digests: string[];
    kind: Cell['kind'];
    logs: string[];
  };
  const rows: Pending[] = [];
  // The first row: the stage, its base and the lanes it reads and feeds.
  const reads = lane.reads.filter(
    (r) => r.kind !== 'from' || !lane.base.toLowerCase().endsWith(` ${r.from}`),
  );
  const readLabels = [...new Set(reads.map((r) => r.from))];
  const edges = [
    ...(readLabels.length > 0 ? [`← ${readLabels.join(', ')}`] : []),
    ...(lane.feeds.length > 0 ? [`→ ${lane.feeds.join(', ')}`] : []),
  ].join(' ');
  const from = lane.from;
  const fromPhase = from
    ? phaseOf(ctx, from)
    : lane.phase === 'running' && ctx.over
      ? 'canceled'
      : lane.phase;
  const base = sanitize(lane.base || from?.instruction || '');
  // A lane known only from unlabelled steps (no Dockerfile, no FROM reported) has no first row to show.
  if (from || lane.label || base)
    rows.push({
      phase: fromPhase,
      number: from ? `#${from.number}` : '',
      main: lane.label
        ? [{ text: sanitize(lane.label), color: 'magenta', bold: true }, { text: ` · ${base}` }]
        : [{ text: base }],
      tag: edges ? { text: ` ${edges}`, color: 'cyan' } : null,
      cause: from ? causeOf(ctx, from, fromPhase) : null,
      right: from ? rightText(from, fromPhase, o.nowMs) : '',
      selected: from !== undefined && o.selected === from.digest,
      dimText: false,
      digests: from ? [from.digest] : [],
      kind: 'step',
      logs: from ? failedLogs(ctx, from, fromPhase, fullWidth) : [],
    });
  let waiting = 0;
  let hidden = 0;
  for (const step of lane.steps) {
    const phase = phaseOf(ctx, step);
    if (phase === 'waiting' && o.live) {
      if (waiting >= MAX_WAITING_ROWS) {
        hidden++;
        continue;
      }
      waiting++;
    }
    const readsHere = [...new Set(lane.reads.filter((r) => r.step === step.digest).map((r) => r.from))];
    rows.push({
      phase,
      number: `#${step.number}`,
      main: [
        { text: sanitize(step.instruction || step.name), color: phase === 'failed' ? 'red' : undefined },
      ],
      tag: readsHere.length > 0 ? { text: ` ← ${readsHere.join(', ')}`, color: 'cyan' } : null,
      cause: causeOf(ctx, step, phase),
      right: rightText(step, phase, o.nowMs),
      size: step.layerBytes ? formatBytes(step.layerBytes) : undefined,
      selected: o.selected === step.digest,
      dimText: phase === 'waiting' || phase === 'cached' || phase === 'canceled',
      digests: [step.digest],
      kind: 'step',
      logs: failedLogs(ctx, step, phase, fullWidth),
    });
  }
  if (hidden > 0)
    rows.push({
      phase: 'waiting',
      number: '',
      main: [{ text: `… ${hidden} more step${hidden === 1 ? '' : 's'} waiting`, dim: true }],
      tag: null,
      cause: null,
      right: '',
      selected: false,
      dimText: true,
      digests: [],
      kind: 'more',
      logs: [],
    });
  return rows.map((r, i) => ({
    segments: row(ctx, w, { ...r, rail: rail(i, rows.length) }),
    digests: r.digests,
    kind: r.kind,
    logs: r.logs,
  }));
}

/** The lanes of a band: side by side when wide enough, else one under the other. */
function bandLines(ctx: Ctx, band: Lane[], block: LaneBlock, width: number): LaneLine[] {
  const perRow =
    width >= WIDE_LANES_MIN_WIDTH
      ? Math.max(1, Math.min(band.length, Math.floor((width + LANE_GAP) / (MIN_LANE_WIDTH + LANE_GAP))))
      : 1;
  const out: LaneLine[] = [];
  for (let at = 0; at < band.length; at += perRow) {
    const group = band.slice(at, at + perRow);
    const w = group.length === 1 ? width : Math.floor((width - LANE_GAP * (group.length - 1)) / group.length);
    const columns = group.map((lane) => laneCells(ctx, lane, w, width));
    const height = Math.max(...columns.map((c) => c.length));
    const label = group.map((l) => l.label || '-').join('+');
    // Alone, a failed step's logs follow its row; beside other lanes they wait for the band's end.
    const held: string[] = [];
    for (let i = 0; i < height; i++) {
      const segments: Segment[] = [];
      const digests: string[] = [];
      const logs: string[] = [];
      let kind: LaneLine['kind'] = 'more';
      columns.forEach((cells, c) => {
        if (c > 0) segments.push({ text: ' '.repeat(LANE_GAP) });
        const cell = cells[i];
        if (!cell) {
          // A lane that ended early leaves its column blank (the last one needs no filling).
          if (c < columns.length - 1) segments.push({ text: ' '.repeat(w) });
          return;
        }
        segments.push(...cell.segments);
        digests.push(...cell.digests);
        if (cell.kind === 'step') kind = 'step';
        logs.push(...cell.logs);
      });
      out.push({ key: `${block}:${label}:${i}`, segments, digests, block, kind });
      if (group.length === 1) out.push(...logLines(logs, block, `${label}:${i}`));
      else held.push(...logs);
    }
    out.push(...logLines(held, block, `${label}:end`));
  }
  return out;
}

function logLines(logs: string[], block: LaneBlock, key: string): LaneLine[] {
  return logs.map((text, j) => ({
    key: `${block}:${key}:log${j}`,
    segments: [{ text, color: 'red', dim: true }],
    digests: [],
    block,
    kind: 'log',
  }));
}

/** BuildKit's own vertices: one folded line, or (unfolded) one row each. */
function groupLines(ctx: Ctx, group: InternalGroup, block: 'head' | 'tail', width: number): LaneLine[] {
  const o = ctx.o;
  if (group.steps.length === 0) return [];
  if (o.unfold)
    return group.steps.map((step) => {
      const phase = phaseOf(ctx, step);
      return {
        key: `${block}:${step.digest}`,
        segments: row(ctx, width, {
          phase,
          number: `#${step.number}`,
          rail: '  ',
          main: [
            ...(step.tag ? [{ text: `${sanitize(step.tag)} `, dim: true }] : []),
            { text: sanitize(step.instruction || step.name) },
          ],
          tag: null,
          cause: null,
          right: rightText(step, phase, o.nowMs),
          selected: o.selected === step.digest,
          dimText: phase !== 'running' && phase !== 'failed',
          glyph: phase === 'done' ? 'cached' : phase,
        }),
        digests: [step.digest],
        block,
        kind: block,
      };
    });
  const over = ctx.over;
  const phase = group.phase === 'running' && over ? 'canceled' : group.phase;
  const facts: string[] = [];
  if (block === 'head') {
    if (group.dockerfileBytes > 0) facts.push(`Dockerfile ${formatBytes(group.dockerfileBytes)}`);
    if (group.contextBytes > 0) facts.push(`context ${formatBytes(group.contextBytes)}`);
    if (group.images.length > 0) facts.push(group.images.map(sanitize).join(', '));
  } else facts.push(...group.steps.map((s) => sanitize(s.instruction || s.name)));
  const running = group.steps.find((s) => phaseOf(ctx, s) === 'running');
  const right =
    phase === 'running' && running
      ? rightText(running, 'running', o.nowMs)
      : group.completedMs > 0 && group.startedMs > 0
        ? formatDuration(group.completedMs - group.startedMs)
        : '';
  const selected = group.steps.some((s) => s.digest === o.selected);
  return [
    {
      key: `${block}:folded`,
      segments: row(ctx, width, {
        phase,
        glyph: phase === 'done' ? 'cached' : phase,
        number: '',
        rail: '  ',
        main: [
          { text: block === 'head' ? 'internal' : 'export', bold: true },
          ...(facts.length > 0 ? [{ text: ` · ${facts.join(' · ')}` }] : []),
        ],
        tag: o.unfoldKey ? { text: ` (${o.unfoldKey} lists)`, dim: true } : null,
        cause: null,
        right,
        selected,
        dimText: true,
      }),
      digests: group.steps.map((s) => s.digest),
      block,
      kind: block,
    },
  ];
}

/** Whether every step of a block is settled: nothing on its lines will change any more. */
export function blockSettled(state: BuildState, lines: readonly LaneLine[], block: LaneBlock): boolean {
  if (state.result) return true;
  const digests = new Set(lines.filter((l) => l.block === block).flatMap((l) => l.digests));
  const steps = state.steps.filter((s) => digests.has(s.digest));
  if (steps.length === 0 || !steps.every(isStepFinished)) return false;
  if (block === 'tail') return false;
  // A cached step stays live until the steps built on it have started: what they do can still
  // say something about it (the smart cache marks an install it reused once the copy after it ran).
  const waitedOn = new Set<string>();
  for (const t of state.steps)
    if (t.startedMs === 0 && !t.cached && t.completedMs === 0 && t.error === '')
      for (const input of t.inputs) waitedOn.add(input);
  if (steps.some((s) => s.cached && waitedOn.has(s.digest))) return false;
  // BuildKit reports the steps of the build (and the context it loads for them) at once: the
  // head is complete once they came, a band once its own steps finished.
  if (block !== 'head') {
    // A builder that explains misses sends each cause right after its step: a part waits for the
    // causes of its steps that ran, so it is printed with them.
    const explains = state.steps.some((s) => s.cause !== null);
    return (
      !explains || steps.every((s) => s.stepIndex === 0 || s.cached || s.error !== '' || s.cause !== null)
    );
  }
  if (!state.steps.some((s) => s.stepIndex > 0)) return false;
  // The build context's vertex may come a little after the steps that read it: wait for it.
  const readsContext = state.steps.some(
    (s) => s.stepIndex > 0 && /^(COPY|ADD)\s/i.test(s.instruction) && !/\s--from=/i.test(s.instruction),
  );
  return !readsContext || steps.some((s) => /^load (remote )?build context$/.test(s.instruction));
}

/** `⟳ first build` when the build's misses have one cause (first build, --no-cache), else ''. */
export function buildCauseText(state: BuildState): string {
  const cause = buildWideCause(state);
  return cause ? `${CAUSE_MARK} ${sanitize(shortCauseText(cause))}` : '';
}

/** `synced context: 3 files changed (3 unique contents, 1.2kB sent)`, or the sync under way. */
export function syncText(state: BuildState): string {
  const sync = state.sync;
  if (!sync) return '';
  if (sync.ackedMs === 0) {
    if (sync.entries === 0) return 'hashing context';
    return `syncing context: ${sync.entries} entr${sync.entries === 1 ? 'y' : 'ies'}`;
  }
  // The snapshot id is in the plain and json output; here it would push the counts off a narrow line.
  return syncedText(sync, false);
}
