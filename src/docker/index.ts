export { createContainerSyncer, EXEC_OUTPUT_CAP } from './container-sync.js';
export { parseImageRef } from './docker-host.js';
export { LocalEngineError } from './errors.js';
export { createLocalEngine, type LocalEngine, loadStreamError, localEngineApi } from './local-engine.js';
