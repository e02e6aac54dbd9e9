/** The constructor of the error type a caller wants engine failures as (each side keeps its own). */
export type EngineErrorType = new (code: string, message: string, options?: { cause?: unknown }) => Error;

/**
 * A failure of the Engine API client when its caller names no error type of its own, and the base
 * of each side's engine error; `code` is stable: invalid_host, engine_unreachable, engine_error.
 */
export class EngineApiError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'EngineApiError';
  }
}
