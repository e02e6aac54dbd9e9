/** Ink views of a BuildState: pure functions of state; no gRPC, watcher or Docker code here. */
export { BuildSummary, type BuildSummaryProps, summaryText } from './BuildSummary.js';
/** The whole build screen. */
export { BuildView, type BuildViewProps } from './BuildView.js';
/** Row layout of the layer graph, shared by the views and their tests. */
export {
  FAILED_LOG_LINES,
  type GraphRow,
  layoutGraph,
  MAX_WAITING_ROWS,
  primaryParent,
  settledCount,
  stepLabel,
  syncText,
} from './graph-layout.js';
/** The live layer graph. */
export { LayerGraph, type LayerGraphProps } from './LayerGraph.js';
/** Mounts BuildView on a terminal and feeds it events. */
export { type RenderBuildTtyOptions, renderBuildTty, type TtyBuildRenderer } from './render-build-tty.js';
/** One row of the graph. */
export { StepRow, type StepRowProps } from './StepRow.js';
/** Cell-width helpers for fixed-width rows. */
export { cellWidth, padEnd, sanitize, truncate } from './text.js';
/** Spinner frames from cli-spinners. */
export { useSpinner } from './use-spinner.js';
