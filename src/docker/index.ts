export {
  DEFAULT_DOCKER_HOST,
  type DockerHostAddress,
  parseDockerHost,
  parseImageRef,
} from './docker-host.js';
export { LocalEngineError } from './errors.js';
export { createLocalEngine, type LocalEngine, loadStreamError } from './local-engine.js';
