export { createContextTar, INJECTED_DOCKERFILE_DIR } from './context-tar.js';
export { createDockerEngine, type DockerEngineOptions } from './docker-engine.js';
export { classifyBuildError } from './errors.js';
export {
  authForHost,
  DOCKER_MANIFEST_V2,
  encodeRegistryAuth,
  type PushAuth,
  type PushResult,
  parsePushStream,
  pushError,
} from './push.js';
export {
  badOutputPath,
  type OutputFileEntry,
  type OutputLimits,
  type OutputSink,
  type OutputTotals,
  type SessionOutput,
} from './session/file-send.js';
export { buildView, compareWalkOrder, singleFileEntries } from './session/fs-view.js';
export { type EngineSession, openSession, type SessionDir, type SessionOptions } from './session/session.js';
export { decodeTrace } from './trace.js';
export type {
  BuildErrorCode,
  Engine,
  EngineBuildOptions,
  EngineBuildRequest,
  EngineEvent,
  EngineInfo,
  EngineStatus,
  EngineVertex,
  ExportSummary,
  ImageFacts,
  ImageHistoryEntry,
} from './types.js';
export { EngineError } from './types.js';
