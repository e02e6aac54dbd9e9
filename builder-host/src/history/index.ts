export type { BusterAdvice, BusterFacts } from './advice.js';
export { adviceFor, UNKNOWN_CONTEXT } from './advice.js';
export { buildArgFingerprint, createStepLabeler } from './explain.js';
export { stepCause, trivialExplainer } from './explainer.js';
export type { BuildFeed } from './feed.js';
export { createBuildFeed } from './feed.js';
export type { History, HistoryOptions } from './history.js';
export { MAX_ERROR_CHARS, MIGRATIONS, openHistory, SNAPSHOT_DIFF_CAP } from './history.js';
export type { BuildRecording, Explained, RecordedVertex, RecordingDeps, RecordingInput } from './recorder.js';
export { beginRecording } from './recorder.js';
export { diffSnapshots, EMPTY_DIFF } from './snapshot-diff.js';
export { windowMs } from './stats-window.js';
export type { StepCostsQuery, StepCostsResult } from './step-costs.js';
export {
  boundedLast,
  STEP_COSTS_DEFAULT_LAST,
  STEP_COSTS_MAX_INSTR,
  STEP_COSTS_MAX_LAST,
  STEP_COSTS_MAX_ROOTS,
  STEP_COSTS_MAX_STEPS,
} from './step-costs.js';
export { instructionOf, isDockerfileStep } from './suggest.js';
export type { SealedTrace, TraceBounds, TraceCut, TracedEvent, TraceEvent, TraceRecorder } from './trace.js';
export { createTraceRecorder, cutLogText, DEFAULT_TRACE_MAX_BYTES, isCut, readTrace } from './trace.js';
export type * from './types.js';
