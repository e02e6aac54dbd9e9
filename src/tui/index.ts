/** Ink views of a BuildState: pure functions of state; no gRPC, watcher or Docker code here. */
export { BuildSummary, type BuildSummaryProps, summaryText } from './BuildSummary.js';
export { BuildsView, type BuildsViewProps, type LabelledBuild, pickRows } from './BuildsView.js';
/** The whole build screen. */
export { BuildView, type BuildViewProps } from './BuildView.js';
/** `depot dashboard`: the view, its store-following screen, state, layout, controller and mount. */
export {
  Dashboard,
  DashboardLineView,
  type DashboardProps,
  DashboardScreen,
  type DashboardScreenProps,
  type DashboardStore,
} from './Dashboard.js';
/** The `depot dev` screen, its layout, keys and text. */
export { DevView, type DevViewProps } from './DevView.js';
export {
  createDashboardController,
  type DashboardController,
  type DashboardControllerOptions,
  type DashboardTimers,
  type StatsSource,
} from './dashboard-controller.js';
export {
  DASHBOARD_KEY_HINT,
  type DashboardLayoutOptions,
  type DashboardLine,
  dashboardLineText,
  layoutDashboard,
} from './dashboard-layout.js';
export {
  DASHBOARD_VIEWS,
  DASHBOARD_WINDOWS,
  type DashboardCommand,
  type DashboardEvent,
  type DashboardState,
  type DashboardView,
  dashboardCommandForKey,
  initialDashboardState,
  MAX_RECENT_BUILDS,
  reduceDashboard,
} from './dashboard-state.js';
export {
  ageText,
  clockText,
  focusedStep,
  pathsText,
  type RowWindow,
  rebuiltMark,
  recordSummary,
  triggerText,
  windowRows,
} from './dev-format.js';
export { commandForKey } from './dev-keys.js';
export {
  CONTAINER_LOG_LINES,
  DEV_KEY_HINT,
  DEV_KEYS,
  type DevLayoutOptions,
  type DevLine,
  devLinesHeight,
  INLINE_FAILED_LOG_LINES,
  layoutDevScreen,
  UNFOLD_KEY,
} from './dev-layout.js';
/** `depot dev` as plain lines (no Ink; import './dev-plain.js' directly to avoid loading Ink). */
export { createDevPlainRenderer, type DevPlainRenderer } from './dev-plain.js';
/** The live layer graph. */
export { LayerGraph, type LayerGraphProps } from './LayerGraph.js';
/** The layer graph as lanes of Dockerfile stages, laid out as lines (shared by the views and their tests). */
export {
  blockSettled,
  CAUSE_MARK,
  FAILED_LOG_LINES,
  GLYPH_LEGEND,
  type LaneBlock,
  type LaneLayoutOptions,
  type LaneLine,
  laneBands,
  layoutLanes,
  MAX_WAITING_ROWS,
  PHASE_GLYPH,
  phaseGlyph,
  REUSED_MARK,
  syncText,
  WIDE_LANES_MIN_WIDTH,
} from './lane-layout.js';
export { ReplayView, type ReplayViewProps } from './ReplayView.js';
/** Mounts BuildView on a terminal and feeds it events; prints a finished build's view once. */
export {
  printBuildView,
  type RenderBuildTtyOptions,
  renderBuildsTty,
  renderBuildTty,
  type TtyBuildRenderer,
  type TtyBuildsRenderer,
} from './render-build-tty.js';
export {
  type DashboardTtyRenderer,
  type RenderDashboardTtyOptions,
  renderDashboardTty,
} from './render-dashboard-tty.js';
/** Mounts DevView on a terminal, fed by the dev store. */
export {
  type DevStateSource,
  type DevTtyRenderer,
  type RenderDevTtyOptions,
  renderDevTty,
} from './render-dev-tty.js';
/** A recorded build in a terminal: explored full screen, then its view printed (`depot history show`). */
export { type ReplayBuildTtyOptions, replayBuildTty } from './render-replay-tty.js';
export {
  applyReplayCommand,
  INITIAL_REPLAY_UI,
  layoutReplayScreen,
  REPLAY_KEY_HINT,
  type ReplayLayoutOptions,
  type ReplayTitle,
  type ReplayUi,
  replayOrder,
} from './replay-layout.js';
/** One step's details: whole command, cause and changed files, cache key, layer size, log tail. */
/** Styled text runs, the one line component, and the NO_COLOR switch. */
export {
  ColorMode,
  fitSegments,
  noColorRequested,
  type Segment,
  SegmentLine,
  segmentsText,
  segmentsWidth,
  useColor,
} from './segments.js';
/** Stats numbers as text (shared with `depot stats`). */
export {
  agoText,
  bucketText,
  causeBreakdown,
  percentText,
  SPARK_LEVELS,
  spanText,
  sparkline,
  statsTable,
  suggestionText,
  totalsPairs,
} from './stats-format.js';
export {
  MAX_COMMAND_LINES,
  MAX_LISTED_PATHS,
  type StepDetailsOptions,
  stepDetailsLines,
} from './step-details.js';
/** Cell-width helpers for fixed-width rows. */
export { cellWidth, padEnd, sanitize, truncate } from './text.js';
/** Spinner frames from cli-spinners. */
export { useSpinner } from './use-spinner.js';
/** Terminal size that follows 'resize'. */
export { useTerminalSize } from './use-terminal-size.js';
