import {
  type BuildState,
  formatBytes,
  formatDuration,
  isStepFinished,
  type StepPhase,
  type StepState,
  shortCauseText,
  stepPhase,
  syncedText,
  visibleLogText,
} from '../progress/index.js';
import { cellWidth, padEnd, sanitize, truncate } from './text.js';

/** Log lines shown under a failed step. */
export const FAILED_LOG_LINES = 10;
/** Waiting steps listed one per row in the live area before the rest are counted. */
export const MAX_WAITING_ROWS = 3;

/** Narrowest `#N` column: room for `#10` so the column does not shift at the tenth step. */
const MIN_NUMBER_WIDTH = 3;
/** Narrowest label column: room for `stage-1 2/2` and `internal`. */
const MIN_LABEL_WIDTH = 11;
/** Cells of the instruction a cause never takes away (less when the instruction is shorter). */
const MIN_INSTRUCTION_CELLS = 24;
/** A cause cut shorter than this says too little: leave it out. */
const MIN_CAUSE_CELLS = 10;
/** Marks a cause in a row. */
export const CAUSE_MARK = '⟳';
/** Marks a step the smart cache reused. */
export const REUSED_MARK = '↺';

/**
 * The cause column of a row: why a step that ran missed the cache, or that the smart cache reused
 * a cached one; '' when there is neither or it cannot fit.
 */
function causeColumn(step: StepState, phase: StepPhase, room: number, instructionCells: number): string {
  const ran = phase === 'running' || phase === 'done' || phase === 'failed';
  const text =
    ran && step.cause
      ? `${CAUSE_MARK} ${shortCauseText(step.cause)}`
      : phase === 'cached' && step.reused
        ? `${REUSED_MARK} smart cache`
        : '';
  if (!text) return '';
  const left = room - Math.min(instructionCells, MIN_INSTRUCTION_CELLS) - 2;
  if (left < MIN_CAUSE_CELLS) return '';
  return `  ${truncate(sanitize(text), left)}`;
}

/** The row without its cause column, the text widened over it so the row keeps its width. */
export function withoutCause(row: GraphRow): GraphRow {
  if (row.cause === '') return row;
  const tail = row.right ? 1 : 0;
  const text = padEnd(row.text, cellWidth(row.text) + cellWidth(row.cause) - tail) + (tail ? ' ' : '');
  return { ...row, text, cause: '' };
}

/** One laid-out row of the layer graph: every text part already fits the width. */
export interface GraphRow {
  digest: string;
  phase: StepPhase;
  /** `#N` padded to the widest number */
  number: string;
  /** stage label (`build 2/4`, `internal`) padded to the label column */
  label: string;
  /** tree guide: '' for roots, `│  ` continuing the row above, `└─ ` branching from an earlier row */
  guide: string;
  /**
   * the instruction, cut to fit, padded so `cause` and `right` end at the last column; ends in
   * the space before `right` unless `cause` is set (then `cause` does)
   */
  text: string;
  /**
   * `  ⟳ src/app.js +2 changed`: why a step that ran missed the cache, or `  ↺ smart cache` on a
   * cached step the smart cache reused, when known and it fits, plus the space before `right`; else ''
   */
  cause: string;
  /** `CACHED`, `CANCELED`, a duration, or `12.3MB/45.6MB 1.2s` while running */
  right: string;
  /** a failed step's last log lines, each cut to the width */
  logs: string[];
}

/** The label column entry of a step. */
export function stepLabel(step: StepState): string {
  if (step.tag !== '') return step.tag;
  if (step.stepIndex > 0)
    return step.stage
      ? `${step.stage} ${step.stepIndex}/${step.stepTotal}`
      : `${step.stepIndex}/${step.stepTotal}`;
  return '';
}

/**
 * The input a step hangs from: the most recent earlier input of the same named stage, else the
 * most recent earlier input (e.g. `exporting to image` hangs from the final stage's last step).
 */
export function primaryParent(steps: readonly StepState[], at: number): number {
  const step = steps[at];
  if (!step) return -1;
  let best = -1;
  let bestSame = -1;
  for (const digest of step.inputs) {
    const i = steps.findIndex((s) => s.digest === digest);
    if (i < 0 || i >= at) continue;
    best = Math.max(best, i);
    if (step.stage !== '' && steps[i]?.stage === step.stage) bestSame = Math.max(bestSame, i);
  }
  return bestSame >= 0 ? bestSame : best;
}

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

/** Lays out every step of the state as a row of exactly `width` cells (logs excepted, which are shorter). */
export function layoutGraph(state: BuildState, width: number, nowMs: number = state.nowMs): GraphRow[] {
  const steps = state.steps;
  // Rows printed to <Static> early keep the widths of their time, and steps keep arriving: start
  // the columns wide enough for most builds (`#10`, `stage-1 2/2`) so later rows line up with them.
  const numWidth = Math.max(MIN_NUMBER_WIDTH, ...steps.map((s) => `#${s.number}`.length));
  const labels = steps.map(stepLabel);
  const maxLabel = Math.max(MIN_LABEL_WIDTH, ...labels.map(cellWidth));
  // Give the label column at most a fifth of the row, and drop it on very narrow terminals.
  const labelWidth = width < 40 ? 0 : Math.min(maxLabel, Math.max(8, Math.floor(width / 5)));
  return steps.map((step, i) => {
    const phase = stepPhase(step);
    const parent = primaryParent(steps, i);
    let guide = '';
    let ref = '';
    if (parent >= 0) {
      const above = parent === i - 1;
      guide = above && steps[parent]?.stage === step.stage ? '│  ' : '└─ ';
      if (!above) ref = ` ←#${steps[parent]?.number ?? ''}`;
    }
    const number = `#${step.number}`.padEnd(numWidth);
    const label = labelWidth > 0 ? `${padEnd(labels[i] ?? '', labelWidth)} ` : '';
    const right = rightText(step, phase, nowMs);
    // glyph + space, number + space, label, guide, text, space, right
    const fixed = 2 + numWidth + 1 + cellWidth(label) + cellWidth(guide) + (right ? cellWidth(right) + 1 : 0);
    const room = Math.max(0, width - fixed);
    const instruction = sanitize(step.instruction || step.name);
    const withRef = cellWidth(instruction) + cellWidth(ref) <= room ? instruction + ref : instruction;
    const causeText = causeColumn(step, phase, room, cellWidth(withRef));
    const textRoom = room - cellWidth(causeText);
    // The space before the right column ends the last part before it.
    const cause = causeText && right ? `${causeText} ` : causeText;
    const text = padEnd(truncate(withRef, textRoom), textRoom) + (right && !causeText ? ' ' : '');
    const logs =
      phase === 'failed'
        ? step.logs
            .slice(-FAILED_LOG_LINES)
            .map((l) => truncate(`    │ ${sanitize(visibleLogText(l.text))}`, width))
        : [];
    return { digest: step.digest, phase, number, label, guide, text, cause, right, logs };
  });
}

/**
 * How many leading steps are settled and may move to `<Static>`: all of them once the build
 * finished, else the prefix of finished steps (order is kept: a finished step waits for the
 * earlier ones).
 */
export function settledCount(state: BuildState): number {
  if (state.result) return state.steps.length;
  const steps = state.steps;
  // A cached step stays live until the steps built on it have started: what they do can still
  // say something about it (the smart cache marks an install it reused once the copy after it ran).
  const waitedOn = new Set<string>();
  for (const t of steps)
    if (t.startedMs === 0 && !t.cached && t.completedMs === 0 && t.error === '')
      for (const input of t.inputs) waitedOn.add(input);
  const firstOpen = steps.findIndex((s) => !isStepFinished(s) || (s.cached && waitedOn.has(s.digest)));
  return firstOpen < 0 ? steps.length : firstOpen;
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
