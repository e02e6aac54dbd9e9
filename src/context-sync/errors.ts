/** Stable codes a ContextError carries; `cli/` maps them to messages and exit codes. */
export type ContextErrorCode =
  | 'context_not_found'
  | 'context_not_dir'
  | 'context_unreadable'
  | 'invalid_ignore_pattern';

/** A build-context problem the user can fix (missing dir, unreadable file, bad .dockerignore). */
export class ContextError extends Error {
  override readonly name = 'ContextError';
  readonly code: ContextErrorCode;

  constructor(code: ContextErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The errno code of a Node fs error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** True for errors that mean "the path went away (or changed kind) under us": skip it, don't fail. */
export function isVanished(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}
