import { Box, Text } from 'ink';
import { type BuildState, findStep, type StepPhase, shortDigest, stepPhase } from '../progress/index.js';
import { summaryText } from './BuildSummary.js';
import { type LaneLine, layoutLanes } from './lane-layout.js';
import { SegmentLine, useColor } from './segments.js';
import { cellWidth, sanitize, truncate } from './text.js';
import { useSpinner } from './use-spinner.js';

/** One build of several shown together (a platform of a build, a target of a bake). */
export interface LabelledBuild {
  label: string;
  state: BuildState;
  /** clock for its running durations (each builder has its own clock) */
  nowMs: number;
}

/** Props of BuildsView. */
export interface BuildsViewProps {
  builds: readonly LabelledBuild[];
  width: number;
  /** rows of the terminal: every build gets its share */
  height: number;
  final?: boolean;
}

/** Rows of a build's block besides its header, at least. */
const MIN_ROWS_EACH = 1;

/**
 * The rows a build shows in its share: running and failed steps first (a failed step's logs
 * count), then the latest finished ones, in step order; and how many were left out.
 */
export function pickRows<R extends { phase: StepPhase; logs: readonly unknown[] }>(
  rows: readonly R[],
  budget: number,
): { shown: R[]; hidden: number } {
  const keep = new Map<number, R>();
  let used = 0;
  const take = (i: number, row: R) => {
    if (keep.has(i) || used >= budget) return;
    let r = row;
    // A failed step keeps as many of its last log lines as the share has room for.
    if (used + 1 + r.logs.length > budget) {
      if (r.logs.length === 0) return;
      r = { ...r, logs: r.logs.slice(r.logs.length - (budget - used - 1)) };
    }
    keep.set(i, r);
    used += 1 + r.logs.length;
  };
  rows.forEach((r, i) => {
    if (r.phase === 'failed') take(i, r);
  });
  rows.forEach((r, i) => {
    if (r.phase === 'running') take(i, r);
  });
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i]!.phase !== 'waiting') take(i, rows[i]!);
  const shown = [...keep.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
  return { shown, hidden: rows.length - shown.length };
}

/** A step line of the lane layout with the log lines under it, and where it stands. */
interface StepLines {
  line: LaneLine;
  phase: StepPhase;
  logs: readonly LaneLine[];
}

const RANK: Record<StepPhase, number> = {
  failed: 5,
  running: 4,
  done: 3,
  cached: 2,
  canceled: 1,
  waiting: 0,
};

/** The step lines of a build's lanes (a line of lanes side by side stands as its most urgent step). */
function stepLines(state: BuildState, lines: readonly LaneLine[]): StepLines[] {
  const out: StepLines[] = [];
  for (const line of lines) {
    if (line.kind === 'log' && out.length > 0) {
      const last = out[out.length - 1]!;
      out[out.length - 1] = { ...last, logs: [...last.logs, line] };
      continue;
    }
    if (line.kind !== 'step') continue;
    let phase: StepPhase = 'waiting';
    for (const d of line.digests) {
      const step = findStep(state, d);
      const p = step ? stepPhase(step) : 'waiting';
      if (RANK[p] > RANK[phase]) phase = p;
    }
    out.push({ line, phase, logs: [] });
  }
  return out;
}

function header(
  b: LabelledBuild,
  labelWidth: number,
  width: number,
): { glyph: string; color: 'cyan' | 'green' | 'red'; text: string } {
  const result = b.state.result;
  const glyph = result === null ? '' : result.ok ? '✔' : '✖';
  const color = result === null ? ('cyan' as const) : result.ok ? ('green' as const) : ('red' as const);
  const label = b.label + ' '.repeat(Math.max(0, labelWidth - cellWidth(b.label)));
  const outcome = result === null ? '' : result.ok ? `image ${shortDigest(result.imageId)} · ` : 'failed · ';
  const started = b.state.startedMs > 0 || b.state.steps.length > 0 || b.state.sync !== null;
  const text = started ? `${outcome}${summaryText(b.state, b.nowMs)}` : 'waiting for its builder';
  return { glyph, color, text: truncate(sanitize(`${label}  ${text}`), Math.max(0, width - 2)) };
}

/**
 * Several builds live on one terminal: a header per build (its label, steps, cache hits, time,
 * then its image or error) and under it the steps that matter now, each build in its share of the
 * terminal's rows so the whole view stays on screen.
 */
export function BuildsView({ builds, width, height, final = false }: BuildsViewProps) {
  const running = !final && builds.some((b) => b.state.result === null);
  const frame = useSpinner(running);
  const color = useColor();
  const labelWidth = Math.max(0, ...builds.map((b) => cellWidth(b.label)));
  const share = Math.max(MIN_ROWS_EACH, Math.floor((height - 1) / Math.max(1, builds.length)) - 1);
  return (
    <Box flexDirection="column" width={width}>
      {builds.map((b) => {
        const h = header(b, labelWidth, width);
        const rows = stepLines(
          b.state,
          layoutLanes(b.state, { width: Math.max(20, width - 2), nowMs: b.nowMs, frame, live: !final }),
        );
        // Settled builds keep only what went wrong; live ones their share of the screen.
        const budget = b.state.result?.ok ? 0 : b.state.result ? share - 1 : share;
        const { shown } = pickRows(rows, budget);
        return (
          <Box key={b.label} flexDirection="column">
            <Text wrap="truncate-end">
              <Text color={color(h.color)}>{h.glyph || frame || '·'}</Text>{' '}
              <Text bold={b.state.result === null}>{h.text}</Text>
            </Text>
            {shown.flatMap((row) =>
              [row.line, ...row.logs].map((line) => (
                <Box key={line.key} paddingLeft={2}>
                  <SegmentLine segments={line.segments} />
                </Box>
              )),
            )}
            {b.state.result && !b.state.result.ok ? (
              <Text color={color('red')} wrap="truncate-end">
                {'  '}✖ {truncate(sanitize(b.state.result.error || 'build failed'), Math.max(0, width - 4))}
              </Text>
            ) : null}
          </Box>
        );
      })}
    </Box>
  );
}
