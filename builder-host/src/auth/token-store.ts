import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type FileLockFailure, withFileLock, writeFileDurably } from '../../../src/durable-file/index.js';
import { AuthError } from './errors.js';

/** What the builder knows about one token; the secret itself is never stored. */
export interface TokenRecord {
  id: string;
  project: string;
  user: string;
  /** ISO 8601. */
  createdAt: string;
  revoked: boolean;
}

/** Project-scoped builder tokens, persisted as hashes in `<data>/tokens.json`. */
export interface TokenStore {
  /** Mints a token `dpt_<id>_<secret>`; the returned string is the only copy of the secret. */
  create(project: string, user: string): Promise<{ token: string; record: TokenRecord }>;
  /** The record of a live token, or undefined for unknown, revoked or malformed tokens. */
  verify(token: string): Promise<TokenRecord | undefined>;
  /** Marks a token revoked; false when no token has that id. */
  revoke(id: string): Promise<boolean>;
  /** Every token record, revoked ones included, oldest first. */
  list(): Promise<TokenRecord[]>;
}

/** Options for tests: a clock, and how long to wait for another process's lock. */
export interface TokenStoreOptions {
  now?: () => Date;
  lockTimeoutMs?: number;
}

const TOKEN_RE = /^dpt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const ID_RE = /^[0-9a-f]{16}$/;

const storedSchema = z.object({
  id: z.string().regex(ID_RE),
  project: z.string(),
  user: z.string(),
  createdAt: z.string(),
  revoked: z.boolean(),
  /** sha256 hex of the secret part of the token. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
type StoredToken = z.infer<typeof storedSchema>;
const fileSchema = z.object({ version: z.literal(1), tokens: z.array(storedSchema) });

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function toRecord(t: StoredToken): TokenRecord {
  return { id: t.id, project: t.project, user: t.user, createdAt: t.createdAt, revoked: t.revoked };
}

function checkName(kind: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || /[\0-\x1f\x7f]/.test(value)) {
    throw new AuthError(
      'invalid_argument',
      `invalid ${kind} ${JSON.stringify(value)}: must be 1-256 printable characters`,
    );
  }
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** A TokenStore over `<dataDir>/tokens.json` (0600, temp+rename), reread when another process changes it. */
export function createTokenStore(dataDir: string, options: TokenStoreOptions = {}): TokenStore {
  const file = join(dataDir, 'tokens.json');
  const now = options.now ?? (() => new Date());
  const lockTimeoutMs = options.lockTimeoutMs ?? 5_000;
  // Keyed by inode+mtime+size: every write is a rename, so a new inode shows a change even within one mtime tick.
  let cache: { key: string; tokens: StoredToken[] } | undefined;
  let mutations: Promise<unknown> = Promise.resolve();

  async function load(): Promise<StoredToken[]> {
    let key: string;
    try {
      const st = await stat(file);
      key = `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch (err) {
      if (errno(err) === 'ENOENT') {
        cache = undefined;
        return [];
      }
      throw new AuthError('io_error', `reading ${file} failed`, err);
    }
    if (cache?.key === key) return cache.tokens;
    let parsed: z.infer<typeof fileSchema>;
    try {
      parsed = fileSchema.parse(JSON.parse(await readFile(file, 'utf8')));
    } catch (err) {
      if (errno(err) === 'ENOENT') return load();
      throw new AuthError('tokens_corrupt', `token file ${file} is not valid`, err);
    }
    cache = { key, tokens: parsed.tokens };
    return parsed.tokens;
  }

  async function save(tokens: StoredToken[]): Promise<void> {
    try {
      // 0600 set explicitly: the umask cannot loosen it, but be explicit about a file of secrets' hashes.
      await writeFileDurably(file, `${JSON.stringify({ version: 1, tokens }, null, 2)}\n`, {
        mode: 0o600,
        chmod: true,
      });
    } catch (err) {
      throw new AuthError('io_error', `writing ${file} failed`, err);
    }
  }

  // Across processes (the CLI and a running server), a lock file serialises read-modify-write.
  const lockOptions = {
    timeoutMs: lockTimeoutMs,
    mode: 0o600,
    dirMode: 0o700,
    error: (f: FileLockFailure) =>
      f.kind === 'locked'
        ? new AuthError(
            'tokens_locked',
            `token file ${file} is locked: remove ${f.lockFile} if no depot-builder is writing it`,
          )
        : new AuthError('io_error', `locking ${file} failed`, f.cause),
  };

  function mutate<T>(fn: (tokens: StoredToken[]) => { tokens?: StoredToken[]; result: T }): Promise<T> {
    const run = mutations.then(() =>
      withFileLock(
        file,
        async () => {
          cache = undefined; // another process may have written within our mtime tick
          const { tokens, result } = fn([...(await load())]);
          if (tokens) {
            await save(tokens);
            cache = undefined;
          }
          return result;
        },
        lockOptions,
      ),
    );
    mutations = run.catch(() => {});
    return run;
  }

  // Compared against when the id is unknown, so an unknown id costs the same as a wrong secret.
  const dummyHash = sha256(randomBytes(32).toString('base64url'));

  return {
    async create(project, user) {
      checkName('project', project);
      checkName('user', user);
      const secret = randomBytes(32).toString('base64url');
      const hash = sha256(secret).toString('hex');
      return mutate((tokens) => {
        let id: string;
        do id = randomBytes(8).toString('hex');
        while (tokens.some((t) => t.id === id));
        const stored: StoredToken = {
          id,
          project,
          user,
          createdAt: now().toISOString(),
          revoked: false,
          hash,
        };
        return {
          tokens: [...tokens, stored],
          result: { token: `dpt_${id}_${secret}`, record: toRecord(stored) },
        };
      });
    },

    async verify(token) {
      if (typeof token !== 'string') return undefined;
      const m = TOKEN_RE.exec(token);
      if (!m) return undefined;
      const [, id, secret] = m as unknown as [string, string, string];
      const found = (await load()).find((t) => t.id === id);
      const presented = sha256(secret);
      const expected = found ? Buffer.from(found.hash, 'hex') : dummyHash;
      const match = timingSafeEqual(presented, expected);
      if (!found || !match || found.revoked) return undefined;
      return toRecord(found);
    },

    async revoke(id) {
      if (typeof id !== 'string' || !ID_RE.test(id)) return false;
      return mutate((tokens) => {
        const i = tokens.findIndex((t) => t.id === id);
        const t = tokens[i];
        if (!t) return { result: false };
        if (t.revoked) return { result: true };
        const next = [...tokens];
        next[i] = { ...t, revoked: true };
        return { tokens: next, result: true };
      });
    },

    async list() {
      return (await load()).map(toRecord);
    },
  };
}
