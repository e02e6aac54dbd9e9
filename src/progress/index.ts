/** Build progress: one BuildEvent stream reduced to BuildState and rendered as plain text or JSON lines. */

/** Cache-miss causes as one line (plain output) or a few words (the layer graph). */
export { CAUSE_KIND_LABELS, causeRoot, causeText, isCascade, shortCauseText } from './cause.js';
export type {
  BuildEvent,
  BuildEventType,
  StatusInfo,
  StepCauseInfo,
  SyncPhase,
  VertexInfo,
} from './events.js';
/** Byte (docker's SI units: the one byte formatter), duration, digest and progress formatting. */
export {
  elideDigest,
  formatBytes,
  formatDuration,
  formatEta,
  formatProgress,
  formatSeconds,
  type ProgressFigures,
  progressBar,
  progressRatio,
  shortDigest,
} from './format.js';
/** `--progress json`: one event per line, and its parser for replaying recorded streams. */
export { createJsonRenderer, parseEventLines } from './json.js';
/** The build as the Dockerfile's stages (lanes), BuildKit's own vertices folded, cause roots. */
export {
  buildLanes,
  buildWideCause,
  graphOrder,
  groupPhase,
  type InternalGroup,
  isBuildWideCause,
  type Lane,
  type LaneEdge,
  type LaneEdgeKind,
  type LaneGraph,
} from './lanes.js';
/** Rate-limited progress of long work (hashing, upload, load) with rate and ETA. */
export {
  createProgressThrottle,
  PROGRESS_EVENT_INTERVAL_MS,
  type ProgressCounts,
  type ProgressReading,
  type ProgressThrottle,
  type ProgressThrottleOptions,
  readProgress,
} from './meter.js';
/** `--progress` modes and the `auto` decision. */
export {
  isProgressMode,
  type ProgressEnvironment,
  type ProgressMode,
  type ResolvedProgressMode,
  resolveProgressMode,
} from './mode.js';
/** BuildKit-style plain output and its summary line. */
export {
  createPlainRenderer,
  ERROR_LOG_TAIL,
  formatSummaryLine,
  PLAIN_PROGRESS_INTERVAL_MS,
  type PlainRendererOptions,
  type ProgressRenderer,
  syncedText,
} from './plain.js';
/** The reducer, its state and helpers over it. */
export {
  type BuildDefinition,
  type BuildResultState,
  type BuildState,
  type BuildSummary,
  findStep,
  initialBuildState,
  isEchoedDaemonMessage,
  isStepFinished,
  type LoadProgress,
  type LoadState,
  type LogLine,
  MAX_LOG_LINES,
  MAX_MESSAGES,
  numberSteps,
  type ParsedVertexName,
  parseVertexName,
  reduceBuild,
  type StepPhase,
  type StepState,
  type SyncProgress,
  type SyncState,
  stepPhase,
  summarize,
  visibleLogText,
} from './state.js';
