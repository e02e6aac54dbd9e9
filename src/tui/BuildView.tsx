import { Box } from 'ink';
import type { BuildState } from '../progress/index.js';
import { BuildSummary } from './BuildSummary.js';
import { LayerGraph } from './LayerGraph.js';
import { Waterfall } from './Waterfall.js';

/** Props of BuildView. */
export interface BuildViewProps {
  state: BuildState;
  width: number;
  /** clock for running durations; defaults to the latest event time */
  nowMs?: number;
  /** the view is closing: settle every row and stop spinners */
  final?: boolean;
}

/** Bars of the live waterfall under the graph (the critical path and running steps first). */
const LIVE_WATERFALL_ROWS = 6;
/** Bars of the waterfall left on screen when the build ends. */
const FINAL_WATERFALL_ROWS = 12;

/** The whole build screen: the layer graph, the waterfall of where the time went, the summary. */
export function BuildView({ state, width, nowMs, final }: BuildViewProps) {
  return (
    <Box flexDirection="column" width={width}>
      <LayerGraph state={state} width={width} nowMs={nowMs} final={final} />
      {state.steps.some((s) => s.stepIndex > 0 && (s.startedMs > 0 || s.cached)) ? (
        <Box flexDirection="column" marginTop={1}>
          <Waterfall
            state={state}
            width={width}
            nowMs={nowMs}
            final={final}
            maxRows={final ? FINAL_WATERFALL_ROWS : LIVE_WATERFALL_ROWS}
          />
        </Box>
      ) : null}
      <BuildSummary state={state} width={width} nowMs={nowMs} />
    </Box>
  );
}
