import { Box } from 'ink';
import type { BuildState, StepState } from '../progress/index.js';
import { SegmentLine } from './segments.js';
import { stepDetailsLines } from './step-details.js';

/** Props of StepDetails. */
export interface StepDetailsProps {
  state: BuildState;
  step: StepState;
  width: number;
  /** lines it may use, its title included */
  rows: number;
  /** clock for a running step's duration; defaults to the latest event time */
  nowMs?: number;
  /** the key hint at the title's right */
  hint?: string;
}

/** One step's details (see step-details.ts): command, cause and changed files, cache key, layer, logs. */
export function StepDetails({ state, step, width, rows, nowMs = state.nowMs, hint }: StepDetailsProps) {
  const lines = stepDetailsLines(state, step, { width, rows, nowMs, hint });
  return (
    <Box flexDirection="column" width={width}>
      {lines.map((segments, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: lines are positional
        <SegmentLine key={i} segments={segments} />
      ))}
    </Box>
  );
}
