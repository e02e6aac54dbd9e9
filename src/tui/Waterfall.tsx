import { Box } from 'ink';
import type { BuildState } from '../progress/index.js';
import { SegmentLine } from './segments.js';
import { useSpinner } from './use-spinner.js';
import { waterfallLines } from './waterfall-layout.js';

/** Props of Waterfall. */
export interface WaterfallProps {
  state: BuildState;
  width: number;
  /** clock for running bars; defaults to the latest event time */
  nowMs?: number;
  /** rows of bars at most (the critical path and running steps first); all when absent */
  maxRows?: number;
  /** the view is closing: nothing spins */
  final?: boolean;
}

/**
 * The build as a waterfall (waterfallLines): each step a bar on one time axis, running bars
 * growing with a spinner at their head, the critical path marked `┃` (magenta and bold where
 * colours are drawn), the axis, and what the build took, its critical path and the cache saved.
 */
export function Waterfall({ state, width, nowMs = state.nowMs, maxRows, final = false }: WaterfallProps) {
  const frame = useSpinner(!final && state.result === null);
  const lines = waterfallLines(state, { width, nowMs, maxRows, frame: final ? '' : frame });
  return (
    <Box flexDirection="column" width={width}>
      {lines.map((segments, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: lines are positional
        <SegmentLine key={i} segments={segments} />
      ))}
    </Box>
  );
}
