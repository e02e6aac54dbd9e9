/** The `depot dev` loop: store, reducer, controller, ports and their fakes. */
export {
  createDevLoop,
  type DevLoop,
  type DevLoopDeps,
  isConnectionError,
  RECONNECT_FIRST_MS,
  RECONNECT_MAX_MS,
  reconnectDelayMs,
} from './loop.js';
export type { Clock, ContainerRunner, DevBuilder, Watcher, WatcherHandlers } from './ports.js';
export { systemClock } from './ports.js';
export { initialDevState, MAX_CONTAINER_LOG_LINES, MAX_HISTORY, reduceDev } from './reducer.js';
export { copySources, pathsUnderSources } from './sources.js';
export { createStore, type Listener, type Reducer, type Store } from './store.js';
/** `depot dev --sync`: rules from flags, depot.json and the Dockerfile; a batch of changes → a SyncPlan. */
export {
  type AutoRuleOptions,
  type AutoSyncRules,
  CONFIG_FILE,
  deriveAutoRules,
  loadSyncConfig,
  localPathFacts,
  MAX_SYNC_PATHS,
  mergeSyncSettings,
  type PathFacts,
  type PlanOptions,
  parseSyncConfig,
  parseSyncFlags,
  planSync,
  type SyncFlags,
  type SyncRefusal,
  type SyncRequest,
  syncRequested,
} from './sync-rules.js';
export type * from './sync-types.js';
export type * from './types.js';
