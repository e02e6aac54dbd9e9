/**
 * Everything about one step, as lines of segments that fit a width and a number of rows: the
 * whole command (wrapped, not cut to a row), why it missed the cache with the changed files (the
 * first few, then a count), its cache key, the size of the layer it made, and the tail of its
 * output. Pure: `depot dev` shows it under the graph for the selected step, and `BuildView` (a
 * build's terminal view, a replay from the history) for the step it is given.
 *
 * Every fact reads without colours: labels and words say what the colours only underline.
 */
import {
  type BuildState,
  causeRoot,
  causeText,
  elideDigest,
  formatBytes,
  formatDuration,
  isCascade,
  type StepCauseInfo,
  type StepPhase,
  type StepState,
  shortCauseText,
  stepPhase,
  visibleLogText,
} from '../progress/index.js';
import { CAUSE_MARK, phaseGlyph, REUSED_MARK } from './lane-layout.js';
import { fitSegments, type Segment, segmentsWidth } from './segments.js';
import { padEnd, sanitize, truncate, wrap } from './text.js';

/** What the details need besides the state and the step. */
export interface StepDetailsOptions {
  /** columns; no line is wider */
  width: number;
  /** lines the details may use, their title included; they never use more */
  rows: number;
  /** the clock for a running step's duration */
  nowMs: number;
  /** spinner frame for a running step ('' for none) */
  frame?: string;
  /** the build ended: a step still running was cancelled (default: the state has a result) */
  over?: boolean;
  /** the key hint at the title's right, e.g. `enter closes` (none when absent) */
  hint?: string;
  /**
   * the paths this client saw change under the step's sources (`depot dev`'s trigger), shown as
   * its cause when the builder explained none
   */
  changed?: readonly string[];
}

/** Lines the whole command may wrap onto before it is cut with `…`. */
export const MAX_COMMAND_LINES = 8;
/** Lines a failed step's error may wrap onto. */
export const MAX_ERROR_LINES = 3;
/** Changed files listed under the cause before the rest are counted (`… and 25 more`). */
export const MAX_LISTED_PATHS = 5;
/** Lines the changed files and the logs each get before either gets more. */
const SHARED_LINES = 3;
/** Cells of the label column (`  command  `). */
const LABEL_CELLS = 11;

const label = (name: string): Segment => ({ text: padEnd(`  ${name}`, LABEL_CELLS), dim: true });
const indent = (): Segment => ({ text: ' '.repeat(LABEL_CELLS) });

/** A section of the details: what it shows at least and at most, and its lines for a count. */
interface Section {
  /** lines the section needs to say anything (0 when it has nothing to say) */
  min: number;
  /** lines it would use with all the room it wants */
  max: number;
  /** its lines when given `n` (min ≤ n ≤ max) */
  lines(n: number): Segment[][];
}

const none: Section = { min: 0, max: 0, lines: () => [] };

/** Where a step stands, with a build that ended counting a step still running as cancelled. */
function phaseOf(step: StepState, over: boolean): StepPhase {
  const phase = stepPhase(step);
  return over && phase === 'running' ? 'canceled' : phase;
}

/** `ran 1.2s`, `running 3.4s`, `cached`, `failed after 1.2s`, `cancelled`, `waiting`. */
function phaseText(step: StepState, phase: StepPhase, nowMs: number): string {
  const took = step.startedMs > 0 ? formatDuration((step.completedMs || nowMs) - step.startedMs) : '';
  switch (phase) {
    case 'running':
      return `running ${formatDuration(Math.max(0, nowMs - step.startedMs))}`;
    case 'done':
      return took ? `ran ${took}` : 'ran';
    case 'cached':
      return 'cached';
    case 'failed':
      return took ? `failed after ${took}` : 'failed';
    case 'canceled':
      return 'cancelled';
    default:
      return 'waiting';
  }
}

/** `step #10 · build 3/5 · ran 1.2s` and the hint on the right. */
function titleLine(step: StepState, phase: StepPhase, o: StepDetailsOptions): Segment[] {
  const where =
    step.stepIndex > 0
      ? `${step.platform ? `${sanitize(step.platform)} ` : ''}${step.stage ? `${sanitize(step.stage)} ` : ''}${step.stepIndex}/${step.stepTotal}`
      : sanitize(step.tag || 'buildkit');
  const left: Segment[] = [
    phaseGlyph(phase, o.frame ?? ''),
    { text: ` step #${step.number}`, bold: true },
    { text: ` · ${where}`, color: 'magenta' },
    { text: ` · ${phaseText(step, phase, o.nowMs)}` },
  ];
  const right: Segment[] = o.hint ? [{ text: o.hint, dim: true }] : [];
  const lw = segmentsWidth(left);
  const rw = segmentsWidth(right);
  if (rw > 0 && lw + 2 + rw <= o.width) return [...left, { text: ' '.repeat(o.width - lw - rw) }, ...right];
  return fitSegments(left, o.width);
}

/** A labelled value wrapped under its label, over at most `max` lines. */
function wrapped(
  name: string,
  text: string,
  width: number,
  max: number,
  style: Partial<Segment> = {},
): Section {
  const lines = wrap(sanitize(text), Math.max(8, width - LABEL_CELLS));
  const cap = Math.max(1, Math.min(max, lines.length));
  return {
    min: 1,
    max: cap,
    lines: (n) =>
      wrap(sanitize(text), Math.max(8, width - LABEL_CELLS), n).map((l, i) => [
        i === 0 ? label(name) : indent(),
        { ...style, text: l },
      ]),
  };
}

/** One labelled line, cut to the width. */
function single(name: string, value: Segment[], width: number): Section {
  return { min: 1, max: 1, lines: () => [fitSegments([label(name), ...value], width)] };
}

/** The root's own cause: as it was explained, else the cascade's fields without its `follows from` text. */
function rootCause(root: StepState, cascade: StepCauseInfo): StepCauseInfo {
  return root.cause && !isCascade(root.cause) ? root.cause : { ...cascade, text: '' };
}

/**
 * Why the step ran: its own cause (`⟳ …`, and under it the changed files: the first few, then
 * `… and K more`), or `because #N` and that step's cause for a miss that only followed it; for a
 * cache hit the smart cache reused, how.
 */
function causeSection(
  state: BuildState,
  step: StepState,
  phase: StepPhase,
  width: number,
  changed: readonly string[] = [],
): Section {
  if (phase === 'cached' && step.reused)
    return single('cause', [{ text: `${REUSED_MARK} ${sanitize(step.reused)}`, color: 'green' }], width);
  const cause: StepCauseInfo | null =
    step.cause ??
    (changed.length > 0
      ? { kind: 'changed_files', text: '', paths: [...changed], morePaths: 0, name: '', line: 0, digest: '' }
      : null);
  if (!cause || phase === 'cached' || phase === 'waiting') return none;
  const root = causeRoot(state, step);
  const head: Segment[] = root
    ? [
        { text: `because #${root.number}`, bold: true },
        { text: ` ${sanitize(root.instruction || root.name)}`, dim: true },
        { text: ` · ${CAUSE_MARK} ${sanitize(shortCauseText(rootCause(root, cause)))}`, color: 'yellow' },
      ]
    : [
        {
          text: `${CAUSE_MARK} ${sanitize(isCascade(cause) ? shortCauseText(cause) : causeText(cause))}`,
          color: 'yellow',
        },
      ];
  const paths = cause.kind === 'changed_files' ? cause.paths : [];
  const total = paths.length + (cause.kind === 'changed_files' ? cause.morePaths : 0);
  // Listed with a count line, or all of them when the list is short enough to need none.
  const listed = Math.min(paths.length, MAX_LISTED_PATHS);
  const wanted = listed + (total > listed ? 1 : 0);
  return {
    min: 1,
    max: 1 + wanted,
    lines(n) {
      const out: Segment[][] = [fitSegments([label('cause'), ...head], width)];
      const room = n - 1;
      if (room <= 0) return out;
      // Everything fits, or room-1 paths and the count.
      const show = total <= room ? Math.min(paths.length, room) : Math.min(paths.length, room - 1);
      for (const p of paths.slice(0, show))
        out.push([indent(), { text: truncate(sanitize(p), Math.max(1, width - LABEL_CELLS)) }]);
      const more = total - show;
      if (more > 0)
        out.push([indent(), { text: show > 0 ? `… and ${more} more` : `${more} files`, dim: true }]);
      return out;
    },
  };
}

/** `sha256:3f1a…9c2e · hit · ~12.3s cold`: the vertex digest BuildKit keys the step by. */
function cacheSection(step: StepState, phase: StepPhase, width: number): Section {
  const parts: Segment[] = [{ text: elideDigest(step.digest) }];
  if (phase === 'cached') {
    parts.push({ text: ' · hit', color: 'green' });
    if (step.coldMs > 0) parts.push({ text: ` · ~${formatDuration(step.coldMs)} cold`, dim: true });
  } else if (phase === 'done' || phase === 'failed' || phase === 'running' || phase === 'canceled')
    parts.push({ text: ' · miss', color: 'yellow' });
  return single('key', parts, width);
}

/** The size of the step's layer, or why there is none to tell. */
function layerSection(state: BuildState, step: StepState, width: number): Section {
  // BuildKit's own vertices add no layer; a FROM's layers are its image's.
  if (step.stepIndex === 0 || /^FROM\s/i.test(step.instruction)) return none;
  let value: Segment;
  if (step.layerBytes !== null)
    value = { text: step.layerBytes > 0 ? formatBytes(step.layerBytes) : '0B (empty layer)' };
  else if (state.result === null) value = { text: 'known when the build ends', dim: true };
  else if (!state.result.ok) value = { text: 'none (no image)', dim: true };
  else if (state.steps.some((s) => s.layerBytes !== null))
    value = { text: 'not in the image (a stage it copies from)', dim: true };
  else value = { text: 'not reported by the builder', dim: true };
  return single('layer', [value], width);
}

/** The last lines of the step's output that fit, under a line that says how many there are. */
function logsSection(step: StepState, phase: StepPhase, width: number): Section {
  const total = step.logs.length + step.logsDropped;
  if (total === 0) {
    const ran = phase !== 'waiting' && phase !== 'cached' && /^RUN\s/i.test(step.instruction);
    return ran ? single('logs', [{ text: '(no output)', dim: true }], width) : none;
  }
  return {
    min: 1,
    max: 1 + step.logs.length,
    lines(n) {
      const shown = n > 1 ? step.logs.slice(-(n - 1)) : [];
      const head: Segment[] = [
        label('logs'),
        {
          text:
            shown.length === total
              ? `${total} line${total === 1 ? '' : 's'}`
              : shown.length === 0
                ? `${total} line${total === 1 ? '' : 's'} (no room to show them)`
                : `last ${shown.length} of ${total} lines`,
          dim: true,
        },
      ];
      return [
        fitSegments(head, width),
        ...shown.map((l) => [
          { text: '  │ ', dim: true },
          {
            text: truncate(sanitize(visibleLogText(l.text)), Math.max(1, width - 4)),
            color: l.stream === 2 ? ('yellow' as const) : undefined,
          },
        ]),
      ];
    },
  };
}

/**
 * The details of `step`: a title (`✔ step #10 · build 3/5 · ran 1.2s`), then `command` (wrapped),
 * `error` (a failed step's), `cause` (with its changed files), `key` (the cache key), `layer` (its
 * size) and `logs` (the tail). When rows are short, the title and the first line of each fact
 * come first, then the rest of the command and the error, then a few files and log lines each,
 * then the rest of the files, the logs last.
 */
export function stepDetailsLines(state: BuildState, step: StepState, o: StepDetailsOptions): Segment[][] {
  const width = Math.max(LABEL_CELLS + 8, Math.floor(o.width));
  const rows = Math.max(0, Math.floor(o.rows));
  const opts = { ...o, width };
  const phase = phaseOf(step, o.over ?? state.result !== null);
  const sections: Record<'command' | 'error' | 'cause' | 'key' | 'layer' | 'logs', Section> = {
    command: wrapped('command', step.instruction || step.name, width, MAX_COMMAND_LINES),
    error:
      phase === 'failed'
        ? wrapped('error', step.error.replace(/\s*\n\s*/g, ' '), width, MAX_ERROR_LINES, { color: 'red' })
        : none,
    cause: causeSection(state, step, phase, width, o.changed),
    key: cacheSection(step, phase, width),
    layer: layerSection(state, step, width),
    logs: logsSection(step, phase, width),
  };
  const order = ['command', 'error', 'cause', 'key', 'layer', 'logs'] as const;
  const given: Record<(typeof order)[number], number> = {
    command: 0,
    error: 0,
    cause: 0,
    key: 0,
    layer: 0,
    logs: 0,
  };
  let room = rows - 1;
  const grow = (name: (typeof order)[number], upTo: number) => {
    if (given[name] === 0) return;
    const more = Math.max(0, Math.min(room, Math.min(upTo, sections[name].max) - given[name]));
    given[name] += more;
    room -= more;
  };
  // First what each fact needs to say anything; then the whole command and error; then a few
  // changed files and log lines each (SHARED_LINES); then the rest of the files, the logs last.
  for (const name of order) {
    const want = sections[name].min;
    if (want > 0 && room >= want) {
      given[name] = want;
      room -= want;
    }
  }
  grow('command', Number.POSITIVE_INFINITY);
  grow('error', Number.POSITIVE_INFINITY);
  grow('cause', 1 + SHARED_LINES);
  grow('logs', 1 + SHARED_LINES);
  grow('cause', Number.POSITIVE_INFINITY);
  grow('logs', Number.POSITIVE_INFINITY);
  if (rows === 0) return [];
  const out: Segment[][] = [titleLine(step, phase, opts)];
  for (const name of order) if (given[name] > 0) out.push(...sections[name].lines(given[name]));
  return out.map((segs) => fitSegments(segs, Math.max(1, Math.floor(o.width))));
}
