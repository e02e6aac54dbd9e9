export {
  API_VERSION_PREFIX,
  createEngineApi,
  demuxStream,
  type EngineApi,
  type EngineApiOptions,
  type EngineJsonRequest,
  type EngineRequest,
  engineAgent,
  engineRequestOptions,
  errorMessage,
  lines,
  readBody,
  sendEngineRequest,
} from './client.js';
export {
  DEFAULT_ENGINE_HOST,
  ENGINE_HOST_FORMS,
  type EngineEndpoint,
  formatEngineEndpoint,
  parseEngineHost,
} from './endpoint.js';
export { EngineApiError, type EngineErrorType } from './errors.js';
