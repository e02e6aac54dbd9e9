import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AuthError } from './errors.js';
import type { TokenRecord } from './token-store.js';

/**
 * Fleet-wide tokens: `dpt2.<base64url(json claims)>.<base64url(HMAC-SHA256(secret, "dpt2.<claims>"))>`.
 * Every builder holding the team secret verifies them without a shared token file; revocation is by
 * token id (jti) through a list the fleet registry keeps.
 */
export interface TeamTokenClaims {
  /** project */
  p: string;
  /** user */
  u: string;
  /** issued at, seconds since epoch */
  iat: number;
  /** token id: 16 hex digits, what revocation names */
  jti: string;
  /** optional expiry, seconds since epoch */
  exp?: number;
}

const claimsSchema = z.object({
  p: z.string().min(1).max(256),
  u: z.string().min(1).max(256),
  iat: z.number().int().nonnegative(),
  jti: z.string().regex(/^[0-9a-f]{16}$/),
  exp: z.number().int().positive().optional(),
});

const TEAM_TOKEN_RE = /^dpt2\.([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})$/;

/** The secret(s) a verifier accepts: the first signs, all verify, so a secret can be rotated. */
export type TeamSecret = string | readonly string[];

function secrets(secret: TeamSecret): string[] {
  const list = (typeof secret === 'string' ? [secret] : [...secret]).filter((s) => s.length > 0);
  if (list.length === 0) throw new AuthError('invalid_argument', 'empty team secret');
  return list;
}

function sign(secret: string, signed: string): Buffer {
  return createHmac('sha256', secret).update(signed, 'utf8').digest();
}

function checkName(kind: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || /[\0-\x1f\x7f]/.test(value)) {
    throw new AuthError(
      'invalid_argument',
      `invalid ${kind} ${JSON.stringify(value)}: must be 1-256 printable characters`,
    );
  }
}

function toRecord(c: TeamTokenClaims): TokenRecord {
  return {
    id: c.jti,
    project: c.p,
    user: c.u,
    createdAt: new Date(c.iat * 1000).toISOString(),
    revoked: false,
  };
}

/** Options of issueTeamToken: a clock, and an optional lifetime. */
export interface IssueTeamTokenOptions {
  now?: () => Date;
  /** Token lifetime in ms; no expiry when absent. */
  ttlMs?: number;
}

/** Mints a team token for a project; the returned string is the only copy, `record.id` is its jti. */
export function issueTeamToken(
  secret: TeamSecret,
  project: string,
  user: string,
  options: IssueTeamTokenOptions = {},
): { token: string; record: TokenRecord } {
  checkName('project', project);
  checkName('user', user);
  const key = secrets(secret)[0]!;
  const nowMs = (options.now ?? (() => new Date()))().getTime();
  const claims: TeamTokenClaims = {
    p: project,
    u: user,
    iat: Math.floor(nowMs / 1000),
    jti: randomBytes(8).toString('hex'),
    ...(options.ttlMs !== undefined ? { exp: Math.ceil((nowMs + options.ttlMs) / 1000) } : {}),
  };
  const payload = `dpt2.${Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url')}`;
  return { token: `${payload}.${sign(key, payload).toString('base64url')}`, record: toRecord(claims) };
}

/** What createTeamTokenVerifier needs: the secret and a revocation check. */
export interface TeamTokenVerifierOptions {
  secret: TeamSecret;
  /** Whether a token id is revoked; see createRevocationList. */
  isRevoked: (jti: string) => Promise<boolean> | boolean;
  now?: () => Date;
}

/** Verifies a bearer token against a TokenRecord; the shape of the server's TokenVerifier. */
export interface BearerVerifier {
  /** The record of a live token, or undefined for unknown, revoked, expired or malformed ones. */
  verify(token: string): Promise<TokenRecord | undefined>;
}

/** A verifier of `dpt2.` team tokens: signature (constant-time), claims, expiry, then revocation. */
export function createTeamTokenVerifier(options: TeamTokenVerifierOptions): BearerVerifier {
  const keys = secrets(options.secret);
  const now = options.now ?? (() => new Date());
  return {
    async verify(token) {
      if (typeof token !== 'string') return undefined;
      const m = TEAM_TOKEN_RE.exec(token);
      if (!m) return undefined;
      const payload = `dpt2.${m[1]}`;
      const presented = Buffer.from(m[2]!, 'base64url');
      if (presented.length !== 32) return undefined;
      let ok = false;
      for (const key of keys) if (timingSafeEqual(sign(key, payload), presented)) ok = true;
      if (!ok) return undefined;
      let claims: TeamTokenClaims;
      try {
        const parsed = claimsSchema.safeParse(JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')));
        if (!parsed.success) return undefined;
        claims = parsed.data;
      } catch {
        return undefined;
      }
      if (claims.exp !== undefined && claims.exp * 1000 <= now().getTime()) return undefined;
      if (await options.isRevoked(claims.jti)) return undefined;
      return toRecord(claims);
    },
  };
}

/** Options of createRevocationList. */
export interface RevocationListOptions {
  /** Reads every revoked jti, e.g. `() => registry.revokedTokens()`. */
  fetch: () => Promise<readonly string[]>;
  /** How long a fetched list is trusted (default 30 s): the longest a revoked token keeps working. */
  maxAgeMs?: number;
  now?: () => number;
  /** Told when a refresh fails and the previous list is kept. */
  onError?: (err: unknown) => void;
}

/**
 * A cached revocation check, re-read at most every `maxAgeMs`, one fetch at a time. When a refresh
 * fails the last list stays in force (and onError hears of it); with no list yet, verification fails
 * with AuthError 'revocation_unavailable' rather than letting a possibly revoked token in.
 */
export function createRevocationList(options: RevocationListOptions): {
  isRevoked(jti: string): Promise<boolean>;
  /** Forces the next check to re-read. */
  invalidate(): void;
} {
  const maxAgeMs = options.maxAgeMs ?? 30_000;
  const now = options.now ?? Date.now;
  let current: { ids: Set<string>; at: number } | undefined;
  let inflight: Promise<Set<string>> | undefined;

  function refresh(): Promise<Set<string>> {
    inflight ??= options
      .fetch()
      .then(
        (ids) => {
          current = { ids: new Set(ids), at: now() };
          return current.ids;
        },
        (err) => {
          if (!current)
            throw new AuthError(
              'revocation_unavailable',
              'cannot read the revoked-token list of the fleet',
              err,
            );
          options.onError?.(err);
          current = { ids: current.ids, at: now() }; // retry after another maxAgeMs, not on every call
          return current.ids;
        },
      )
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  return {
    async isRevoked(jti) {
      const ids = current && now() - current.at < maxAgeMs ? current.ids : await refresh();
      return ids.has(jti);
    },
    invalidate() {
      current = current && { ids: current.ids, at: Number.NEGATIVE_INFINITY };
    },
  };
}

/** Tries each verifier in order and answers with the first record: team tokens and the per-builder store side by side. */
export function anyOfVerifiers(...verifiers: BearerVerifier[]): BearerVerifier {
  return {
    async verify(token) {
      for (const v of verifiers) {
        const record = await v.verify(token);
        if (record) return record;
      }
      return undefined;
    },
  };
}
