/** An auth failure with a stable `code` ('invalid_argument', 'tokens_corrupt', 'tokens_locked', 'io_error', 'revocation_unavailable'). */
export class AuthError extends Error {
  readonly code: string;
  override readonly cause?: unknown;

  constructor(code: string, message: string, cause?: unknown) {
    super(message);
    this.name = 'AuthError';
    this.code = code;
    if (cause !== undefined) this.cause = cause;
  }
}
