import type { TokenRecord } from './token-store.js';

/** Outcome of checking a caller against a project; `code` matches the gRPC status the server maps it to. */
export type AuthDecision =
  | { ok: true }
  | { ok: false; code: 'unauthenticated' | 'permission_denied'; message: string };

/** Allows a live token on its own project only; a missing or revoked token is unauthenticated. */
export function authorize(record: TokenRecord | undefined, project: string): AuthDecision {
  if (!record || record.revoked) {
    return {
      ok: false,
      code: 'unauthenticated',
      message: 'invalid or missing token: run `depot login --builder URL` or pass --token',
    };
  }
  if (record.project !== project) {
    return {
      ok: false,
      code: 'permission_denied',
      message: `token of project ${JSON.stringify(record.project)} cannot use project ${JSON.stringify(project)}`,
    };
  }
  return { ok: true };
}
