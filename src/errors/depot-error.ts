/** A failure the user can act on: one line, a stable code, and usually a hint. */
export class DepotError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
