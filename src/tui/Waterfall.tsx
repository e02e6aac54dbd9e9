import { Box, Text } from 'ink';
import type { BuildState } from '../progress/index.js';
import { useColor } from './segments.js';
import { useSpinner } from './use-spinner.js';
import { layoutWaterfall, type WaterfallRow, waterfallSummary, waterfallWindow } from './waterfall-layout.js';

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

const COLOR = {
  done: 'green',
  cached: 'blue',
  running: 'cyan',
  failed: 'red',
  canceled: 'yellow',
  waiting: 'gray',
} as const;

function Bar({ row, frame }: { row: WaterfallRow; frame: string }) {
  const color = useColor();
  const head = row.phase === 'running' && frame ? frame : '';
  const bar = head ? row.bar.slice(0, Math.max(0, row.bar.length - 1)) + head : row.bar;
  return (
    <Text wrap="truncate-end">
      <Text dimColor>{row.number}</Text> <Text bold={row.critical}>{row.name}</Text>
      <Text dimColor={!row.critical}>{row.critical ? '┃' : '│'}</Text>
      {' '.repeat(row.lead)}
      <Text color={color(row.critical ? 'magenta' : COLOR[row.phase])} bold={row.critical}>
        {bar}
      </Text>
      {' '.repeat(row.trail)}
      <Text dimColor>│</Text>
      <Text color={color(row.phase === 'cached' ? 'blue' : undefined)} dimColor={row.phase !== 'cached'}>
        {row.right}
      </Text>
    </Text>
  );
}

/**
 * The build as a waterfall: each step a bar on one time axis, running bars growing with a spinner
 * at their head, the critical path marked `┃` (and in magenta, bold), an axis, and the line that says how long
 * the build took, what its critical path ran, and what the cache saved against a cold build.
 */
export function Waterfall({ state, width, nowMs = state.nowMs, maxRows, final = false }: WaterfallProps) {
  const frame = useSpinner(!final && state.result === null);
  const layout = layoutWaterfall(state, width, nowMs);
  const rows = maxRows === undefined ? layout.rows : waterfallWindow(layout.rows, maxRows);
  const hidden = layout.rows.length - rows.length;
  return (
    <Box flexDirection="column" width={width}>
      {rows.map((row) => (
        <Bar key={row.digest} row={row} frame={frame} />
      ))}
      {hidden > 0 ? (
        <Text dimColor wrap="truncate-end">
          {' '.repeat(layout.barStart)}… {hidden} more step{hidden === 1 ? '' : 's'}
        </Text>
      ) : null}
      <Text dimColor wrap="truncate-end">
        {layout.axis}
      </Text>
      <Text wrap="truncate-end">{waterfallSummary(state, layout)}</Text>
    </Box>
  );
}
