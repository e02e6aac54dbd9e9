import { EngineApiError } from '../engine-api/index.js';

/** A failure talking to the local Docker engine; `code` is stable (engine_unreachable, load_failed, …). */
export class LocalEngineError extends EngineApiError {
  override name = 'LocalEngineError';
}
