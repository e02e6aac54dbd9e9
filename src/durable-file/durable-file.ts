import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** What a durable write may be given: the whole content, or chunks (written as they come). */
export type DurableData = string | Buffer | Iterable<string | Buffer> | AsyncIterable<string | Buffer>;

export interface DurableWriteOptions {
  /** Mode of the new file (default 0o666, less the umask, as fs.writeFile). */
  mode?: number;
  /**
   * Set `mode` again after creating the file: the umask can only take bits from a mode given to
   * open, and a file of secrets should not depend on it being strict.
   */
  chmod?: boolean;
  /**
   * fsync the file and its directory (default true). A cache that is cheap to lose may skip it:
   * the replacement is still atomic, only not durable across a power loss.
   */
  fsync?: boolean;
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code;

/**
 * Replaces `file` with `data` so that a reader or a crash sees either the old content or the new,
 * never a mix: write a temp file beside it (O_EXCL, a unique name), fsync, rename over, fsync the
 * directory.
 * On failure the temp file is removed and the error (unwrapped) rethrown; `file` is untouched.
 */
export async function writeFileDurably(
  file: string,
  data: DurableData,
  options: DurableWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o666;
  const fsync = options.fsync ?? true;
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      if (options.chmod) await fh.chmod(mode);
      if (typeof data === 'string' || Buffer.isBuffer(data)) await fh.writeFile(data);
      else
        for await (const chunk of data)
          await fh.writeFile(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  if (fsync) await syncDir(dir);
}

// The rename is durable once the directory is; some filesystems refuse fsync on a directory,
// and the rename is atomic all the same.
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort
  }
}

/** Why a lock could not be taken: held by another writer past the wait, or an I/O failure. */
export type FileLockFailure = { kind: 'locked'; lockFile: string } | { kind: 'failed'; cause: unknown };

export interface FileLockOptions {
  /** How long to wait for another writer (default 5 s). */
  timeoutMs?: number;
  /** A lock older than this is taken over whoever holds it (default 30 s). */
  staleMs?: number;
  /** Mode of the lock file (default 0o644). */
  mode?: number;
  /** Mode of the directory when it has to be created (default per umask). */
  dirMode?: number;
  /** Builds the error thrown when the lock cannot be taken; each caller keeps its own error type. */
  error: (failure: FileLockFailure) => Error;
}

interface LockOwner {
  pid: number;
  host: string;
  nonce: string;
}

/**
 * Runs `fn` holding `<file>.lock` (O_EXCL), so read-modify-write is serialised across processes.
 * A lock is stale, and taken over, when its holder (named in it) is a dead process on this host,
 * or when it is older than `staleMs` (a holder on another host of a shared filesystem). The lock is
 * not held across `fn`'s failure: it is released whatever `fn` does.
 */
export async function withFileLock<T>(
  file: string,
  fn: () => Promise<T>,
  options: FileLockOptions,
): Promise<T> {
  const lockFile = `${file}.lock`;
  const staleMs = options.staleMs ?? 30_000;
  const mode = options.mode ?? 0o644;
  try {
    await mkdir(dirname(file), { recursive: true, mode: options.dirMode });
  } catch (err) {
    throw options.error({ kind: 'failed', cause: err });
  }
  const me: LockOwner = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex') };
  const mine = JSON.stringify(me);
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  for (;;) {
    try {
      const fh = await open(lockFile, 'wx', mode);
      try {
        await fh.writeFile(mine);
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw options.error({ kind: 'failed', cause: err });
    }
    const held = await readLock(lockFile);
    if (held && isStale(held, staleMs)) {
      await takeOver(lockFile, held.text);
      continue;
    }
    if (Date.now() > deadline) throw options.error({ kind: 'locked', lockFile });
    await sleep(10 + Math.random() * 20);
  }
  try {
    return await fn();
  } finally {
    await release(lockFile, mine);
  }
}

async function readLock(lockFile: string): Promise<{ text: string; ageMs: number } | undefined> {
  try {
    const st = await stat(lockFile);
    return { text: await readFile(lockFile, 'utf8'), ageMs: Date.now() - st.mtimeMs };
  } catch {
    return undefined; // released meanwhile
  }
}

function isStale(held: { text: string; ageMs: number }, staleMs: number): boolean {
  if (held.ageMs > staleMs) return true;
  let owner: Partial<LockOwner>;
  try {
    owner = JSON.parse(held.text) as Partial<LockOwner>;
  } catch {
    return false; // being written, or an older writer's empty lock: only age can tell
  }
  return owner.host === hostname() && typeof owner.pid === 'number' && !processAlive(owner.pid);
}

/** True while a process of this pid runs on this host (signal 0; EPERM: alive, another user's). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

// Moves the stale lock aside before deleting it, and puts it back if what was moved is not the
// lock judged stale (another waiter took it over first and now holds a fresh one).
async function takeOver(lockFile: string, staleText: string): Promise<void> {
  const aside = `${lockFile}.${process.pid}-${randomBytes(4).toString('hex')}.stale`;
  try {
    await rename(lockFile, aside);
  } catch {
    return; // gone already
  }
  const moved = await readFile(aside, 'utf8').catch(() => staleText);
  if (moved !== staleText) await link(aside, lockFile).catch(() => {});
  await unlink(aside).catch(() => {});
}

async function release(lockFile: string, mine: string): Promise<void> {
  // A lock held past staleMs may have been taken over: then it is not ours to remove.
  const text = await readFile(lockFile, 'utf8').catch(() => undefined);
  if (text === mine) await unlink(lockFile).catch(() => {});
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
