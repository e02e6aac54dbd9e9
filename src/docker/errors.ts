/** A failure talking to the local Docker engine; `code` is stable (engine_unreachable, load_failed, …). */
export class LocalEngineError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'LocalEngineError';
  }
}
