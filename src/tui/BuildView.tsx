import { Box } from 'ink';
import { type BuildState, findStep } from '../progress/index.js';
import { BuildSummary } from './BuildSummary.js';
import { LayerGraph } from './LayerGraph.js';
import { StepDetails } from './StepDetails.js';
import { Waterfall } from './Waterfall.js';

/** Props of BuildView. */
export interface BuildViewProps {
  state: BuildState;
  width: number;
  /** clock for running durations; defaults to the latest event time */
  nowMs?: number;
  /** the view is closing: settle every row and stop spinners */
  final?: boolean;
  /** digest of the selected step: marked in the graph (`›`) */
  selected?: string;
  /** show the selected step's details (command, cause, cache key, layer, logs) under the summary */
  details?: boolean;
  /** lines the details may use (default DETAILS_ROWS) */
  detailsRows?: number;
}

/** Bars of the live waterfall under the graph (the critical path and running steps first). */
const LIVE_WATERFALL_ROWS = 6;
/** Bars of the waterfall left on screen when the build ends. */
const FINAL_WATERFALL_ROWS = 12;
/** Lines of a selected step's details unless the caller says. */
export const DETAILS_ROWS = 20;

/**
 * The whole build screen: the layer graph, the waterfall of where the time went, the summary;
 * with `selected` and `details`, that step's details under them.
 */
export function BuildView({
  state,
  width,
  nowMs,
  final,
  selected,
  details = false,
  detailsRows = DETAILS_ROWS,
}: BuildViewProps) {
  const step = selected ? findStep(state, selected) : undefined;
  return (
    <Box flexDirection="column" width={width}>
      <LayerGraph state={state} width={width} nowMs={nowMs} final={final} selected={step?.digest} />
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
      {details && step ? (
        <Box flexDirection="column" marginTop={1}>
          <StepDetails state={state} step={step} width={width} rows={detailsRows} nowMs={nowMs} />
        </Box>
      ) : null}
    </Box>
  );
}
