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
export type * from './types.js';
