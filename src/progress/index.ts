/** Build progress: one BuildEvent stream reduced to BuildState and rendered as plain text or JSON lines. */

/** Cache-miss causes as one line (plain output) or a few words (the layer graph). */
export { CAUSE_KIND_LABELS, causeText, shortCauseText } from './cause.js';
export type { BuildEvent, BuildEventType, StatusInfo, StepCauseInfo, VertexInfo } from './events.js';
/** Byte, duration and digest formatting shared with the Ink views. */
export { formatBytes, formatDuration, formatSeconds, shortDigest } from './format.js';
/** `--progress json`: one event per line, and its parser for replaying recorded streams. */
export { createJsonRenderer, parseEventLines } from './json.js';
/** `--progress` modes and the `auto` decision. */
export {
  isProgressMode,
  type ProgressEnvironment,
  type ProgressMode,
  type ResolvedProgressMode,
  resolveProgressMode,
} from './mode.js';
/** BuildKit-style plain output and its summary line. */
export { createPlainRenderer, ERROR_LOG_TAIL, formatSummaryLine, type ProgressRenderer } from './plain.js';
/** The reducer, its state and helpers over it. */
export {
  type BuildResultState,
  type BuildState,
  type BuildSummary,
  findStep,
  initialBuildState,
  isEchoedDaemonMessage,
  isStepFinished,
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
  type SyncState,
  stepPhase,
  summarize,
  visibleLogText,
} from './state.js';
