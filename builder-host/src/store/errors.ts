/** A store failure with a stable `code` (e.g. 'invalid_digest', 'blob_missing', 'digest_mismatch'). */
export class StoreError extends Error {
  readonly code: string;
  override readonly cause?: unknown;

  constructor(code: string, message: string, cause?: unknown) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    if (cause !== undefined) this.cause = cause;
  }
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

/** True when `digest` is exactly "sha256:" followed by 64 lowercase hex digits. */
export function isDigest(digest: unknown): digest is string {
  return typeof digest === 'string' && DIGEST_RE.test(digest);
}

/** Returns the hex part of a digest; throws StoreError 'invalid_digest' for anything else, before it can reach a path. */
export function digestHex(digest: string): string {
  const raw: unknown = digest; // callers pass wire data: don't trust the static type here
  if (!isDigest(raw)) {
    const shown = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 80)) : typeof raw;
    throw new StoreError('invalid_digest', `invalid digest ${shown}: expected sha256:<64 hex>`);
  }
  return digest.slice('sha256:'.length);
}
