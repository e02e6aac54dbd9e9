import { Box } from 'ink';
import type { BuildState } from '../progress/index.js';
import { BuildSummary } from './BuildSummary.js';
import { LayerGraph } from './LayerGraph.js';

/** Props of BuildView. */
export interface BuildViewProps {
  state: BuildState;
  width: number;
  /** clock for running durations; defaults to the latest event time */
  nowMs?: number;
  /** the view is closing: settle every row and stop spinners */
  final?: boolean;
}

/** The whole build screen: the layer graph with the summary under it. */
export function BuildView({ state, width, nowMs, final }: BuildViewProps) {
  return (
    <Box flexDirection="column" width={width}>
      <LayerGraph state={state} width={width} nowMs={nowMs} final={final} />
      <BuildSummary state={state} width={width} nowMs={nowMs} />
    </Box>
  );
}
