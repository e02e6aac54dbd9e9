/**
 * `depot dev --sync`: the container side. Changed files reach the running container through the
 * Engine API's archive upload (one tar per batch: owner, mode and links kept, nothing needed in
 * the image); deletions and `--sync-exec` run as execs; hashes come back through the archive
 * download. Every call goes through the one Engine API client of the local engine.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { type FileHandle, open } from 'node:fs/promises';
import type http from 'node:http';
import { posix } from 'node:path';
import { PassThrough } from 'node:stream';
import tar from 'tar-stream';
// Type-only: the shapes are shared with the dev loop, and erase at run time (no import cycle).
import type { ContainerSyncer, SyncChange } from '../dev/index.js';
import { demuxStream, type EngineApi, errorMessage, readBody } from '../engine-api/index.js';
import { entryDone, type HeaderArg } from '../engine-api/tar-entry.js';
import { DepotError } from '../errors/index.js';
import type { LocalEngine } from './local-engine.js';
import { localEngineApi } from './local-engine.js';

/** What `exec` keeps of a command's output: its last bytes (errors come last). */
export const EXEC_OUTPUT_CAP = 64 * 1024;
/** Files up to this size are read whole before the upload starts (a consistent copy, fewer reads). */
const READ_AHEAD_FILE = 1024 * 1024;
/** And at most this much in total per batch; bigger files are streamed from disk. */
const READ_AHEAD_TOTAL = 32 * 1024 * 1024;
/** Seconds a restart waits for the process to stop before killing it: dev processes stop fast. */
const RESTART_TIMEOUT_SEC = 2;
/** How long a quick call (inspect, stat, exec create) may take. */
const QUICK_MS = 10_000;
const HASH_CONCURRENCY = 4;
const STAT_CONCURRENCY = 16;

// Go's os.FileMode type bits, as the archive stat header carries them.
const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;

/** One entry of the upload: a change of the batch, or a parent directory the container lacks. */
type Entry =
  | { kind: 'file'; name: string; change: Extract<SyncChange, { kind: 'file' }>; data?: Buffer; size: number }
  | { kind: 'symlink'; name: string; change: Extract<SyncChange, { kind: 'symlink' }> }
  | { kind: 'dir'; name: string; mode: number; uid: number; gid: number };

/**
 * The container syncer over the local engine (a LocalEngine or its DOCKER_HOST value). Failures
 * are DepotErrors: container_not_running, container_not_found, sync_source_failed,
 * sync_delete_unsupported, sync_exec_unsupported, sync_failed, engine_unreachable, cancelled.
 */
export function createContainerSyncer(engine: LocalEngine | string): ContainerSyncer {
  const api = localEngineApi(typeof engine === 'string' ? engine : engine.host);
  const c = (id: string, tail: string) => `/containers/${encodeURIComponent(id)}${tail}`;

  /** One request and its whole (small) answer, with failures as DepotErrors naming `what`. */
  async function call(
    r: Parameters<EngineApi['request']>[0],
    what: string,
  ): Promise<{ status: number; body: Buffer; res: http.IncomingMessage }> {
    let res: http.IncomingMessage;
    let body: Buffer;
    try {
      res = await api.request(r);
      body = await readBody(res);
    } catch (err) {
      throw failure(err, what, r.signal);
    }
    return { status: res.statusCode ?? 500, body, res };
  }

  /** An engine failure of `what` (HTTP status ≥ 400) as the DepotError it means. */
  function answerError(id: string, status: number, body: Buffer, what: string): DepotError {
    const msg = errorMessage(body, status);
    if (status === 404 && /no such container/i.test(msg))
      return new DepotError('container_not_found', `${what} failed: container ${id} is gone`);
    if (status === 409 && /is not running|is paused|is restarting/i.test(msg)) return notRunning(id, what);
    return new DepotError('sync_failed', `${what} failed: ${msg}`);
  }

  async function inspect(id: string, signal?: AbortSignal) {
    const r = await call(
      { method: 'GET', path: c(id, '/json'), signal, timeoutMs: QUICK_MS },
      `inspect of container ${id}`,
    );
    if (r.status === 404) return undefined;
    if (r.status >= 400) throw answerError(id, r.status, r.body, `inspect of container ${id}`);
    return JSON.parse(r.body.toString('utf8')) as {
      State?: { Running?: boolean; Paused?: boolean; StartedAt?: string };
    };
  }

  /** Whether a path exists in the container (as anything: a link to a directory counts). */
  async function exists(id: string, path: string, signal?: AbortSignal): Promise<boolean> {
    const what = `stat of ${path} in container ${id}`;
    const r = await call(
      {
        method: 'HEAD',
        path: c(id, `/archive?path=${encodeURIComponent(path)}`),
        signal,
        timeoutMs: QUICK_MS,
      },
      what,
    );
    if (r.status === 200) return true;
    // A HEAD answer has no body: a missing container and a missing path are both a bare 404.
    if (r.status === 404) return false;
    throw answerError(id, r.status, r.body, what);
  }

  /**
   * Runs `cmd` (no shell) and collects its output (the last EXEC_OUTPUT_CAP bytes, stdout and
   * stderr as they came) and exit code. `notFound`: the engine could not start the executable.
   */
  async function runExec(
    id: string,
    cmd: string[],
    user: string | undefined,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<{ exitCode: number; output: string; notFound: boolean }> {
    const created = await call(
      {
        method: 'POST',
        path: c(id, '/exec'),
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from(
          JSON.stringify({ AttachStdout: true, AttachStderr: true, Tty: false, Cmd: cmd, User: user }),
        ),
        signal,
        timeoutMs: QUICK_MS,
      },
      what,
    );
    if (created.status >= 400) throw answerError(id, created.status, created.body, what);
    const execId = (JSON.parse(created.body.toString('utf8')) as { Id: string }).Id;
    const exec = (tail: string) => `/exec/${encodeURIComponent(execId)}${tail}`;
    let kept: Buffer[] = [];
    let keptBytes = 0;
    let cut = 0;
    try {
      const res = await api.request({
        method: 'POST',
        path: exec('/start'),
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from(JSON.stringify({ Detach: false, Tty: false })),
        signal,
      });
      if ((res.statusCode ?? 500) >= 400)
        throw answerError(id, res.statusCode ?? 500, await readBody(res), what);
      for await (const f of demuxStream(res)) {
        kept.push(f.data);
        keptBytes += f.data.length;
        if (keptBytes > 2 * EXEC_OUTPUT_CAP) {
          const all = Buffer.concat(kept);
          cut += all.length - EXEC_OUTPUT_CAP;
          kept = [all.subarray(all.length - EXEC_OUTPUT_CAP)];
          keptBytes = EXEC_OUTPUT_CAP;
        }
      }
    } catch (err) {
      if (err instanceof DepotError) throw err;
      throw failure(err, what, signal);
    }
    let all = Buffer.concat(kept);
    if (all.length > EXEC_OUTPUT_CAP) {
      cut += all.length - EXEC_OUTPUT_CAP;
      all = all.subarray(all.length - EXEC_OUTPUT_CAP);
    }
    const output = (cut ? `(${cut} bytes of output left out)\n` : '') + all.toString('utf8');
    // The output ends when the process does, but the engine records the exit code a moment later.
    for (let i = 0; ; i++) {
      const r = await call({ method: 'GET', path: exec('/json'), signal, timeoutMs: QUICK_MS }, what);
      if (r.status >= 400) throw answerError(id, r.status, r.body, what);
      const info = JSON.parse(r.body.toString('utf8')) as { Running?: boolean; ExitCode?: number | null };
      if (!info.Running && typeof info.ExitCode === 'number') {
        // The engine writes why it could not start the process into the output, exit code 126/127.
        const notFound =
          (info.ExitCode === 126 || info.ExitCode === 127) &&
          /executable file not found|no such file or directory/i.test(output) &&
          /OCI runtime exec failed|exec failed|starting container process/i.test(output);
        return { exitCode: info.ExitCode, output, notFound };
      }
      if (i >= 200) throw new DepotError('sync_failed', `${what} failed: the engine reports no exit code`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function deletePaths(id: string, dests: string[], signal?: AbortSignal): Promise<void> {
    if (dests.length === 0) return;
    const what = `deleting ${describe(dests)} in container ${id}`;
    // As root: what the upload wrote is root's to remove whoever the container runs as.
    const r = await runExec(id, ['rm', '-rf', '--', ...dests], '0', signal, what);
    if (r.notFound)
      throw new DepotError(
        'sync_delete_unsupported',
        `cannot delete ${describe(dests)} in the container: its image has no rm`,
        'deletions need rm in the image; the dev loop rebuilds instead',
      );
    if (r.exitCode !== 0)
      throw new DepotError(
        'sync_failed',
        `${what} failed: ${oneLine(r.output) || `exit code ${r.exitCode}`}`,
      );
  }

  async function upload(id: string, entries: Entry[], signal?: AbortSignal): Promise<void> {
    const what = `upload of ${entries.length === 1 ? entries[0]!.name : `${entries.length} entries`} to container ${id}`;
    const pack = tar.pack();
    const body = new PassThrough();
    let packError: Error | undefined;
    pack.on('error', (err: Error) => body.destroy(err));
    pack.pipe(body);
    // Once the engine has answered (or the call failed) nothing reads the tar any more: stop
    // writing it, or a big file's stream would wait for a drain that never comes.
    const writing = new AbortController();
    const stopWriting = () => writing.abort();
    signal?.addEventListener('abort', stopWriting, { once: true });
    void writeEntries(pack, entries, writing.signal).catch((err: Error) => {
      packError = err;
      pack.destroy(err);
      body.destroy(err);
    });
    let r: { status: number; body: Buffer };
    try {
      const res = await api.request({
        method: 'PUT',
        // Allowed to replace a directory with a file and back: the container follows the context.
        path: c(id, '/archive?path=%2F&noOverwriteDirNonDir=false'),
        headers: { 'Content-Type': 'application/x-tar' },
        body,
        signal,
      });
      r = { status: res.statusCode ?? 500, body: await readBody(res) };
    } catch (err) {
      if (packError instanceof DepotError) throw packError;
      throw failure(packError ?? err, what, signal);
    } finally {
      signal?.removeEventListener('abort', stopWriting);
      stopWriting();
    }
    if (packError instanceof DepotError) throw packError;
    if (r.status >= 400) throw answerError(id, r.status, r.body, what);
  }

  /** The tar entries of a batch: its files, links and directories, and the parents the container lacks. */
  async function entriesOf(id: string, writes: SyncChange[], signal?: AbortSignal): Promise<Entry[]> {
    const byName = new Map<string, Entry>();
    for (const ch of writes) {
      const name = ch.dest.slice(1);
      if (ch.kind === 'dir') byName.set(name, { kind: 'dir', name, mode: ch.mode, uid: ch.uid, gid: ch.gid });
      else if (ch.kind === 'symlink') byName.set(name, { kind: 'symlink', name, change: ch });
      else if (ch.kind === 'file') byName.set(name, { kind: 'file', name, change: ch, size: 0 });
    }
    // Parents not in the batch: an entry for one that exists would reset its owner and mode, so
    // only those the container lacks are added (owned like what goes in them, 0755).
    const owners = new Map<string, { uid: number; gid: number }>();
    for (const ch of writes) {
      if (ch.kind === 'delete') continue;
      for (let p = posix.dirname(ch.dest); p !== '/'; p = posix.dirname(p)) {
        if (byName.has(p.slice(1)) || owners.has(p)) break;
        owners.set(p, { uid: ch.uid, gid: ch.gid });
      }
    }
    const missing = new Set<string>();
    // Ask about the deepest parents first: one that exists vouches for every directory above it.
    const withChild = new Set([...owners.keys()].map((p) => posix.dirname(p)));
    let ask = [...owners.keys()].filter((p) => !withChild.has(p));
    while (ask.length > 0) {
      const found = await mapLimit(ask, STAT_CONCURRENCY, (p) => exists(id, p, signal));
      const next = new Set<string>();
      ask.forEach((p, i) => {
        if (found[i]) return;
        missing.add(p);
        const up = posix.dirname(p);
        if (owners.has(up) && !missing.has(up)) next.add(up);
      });
      ask = [...next];
    }
    for (const p of missing) {
      const o = owners.get(p)!;
      byName.set(p.slice(1), { kind: 'dir', name: p.slice(1), mode: 0o755, uid: o.uid, gid: o.gid });
    }
    return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  return {
    async apply(containerId, changes, signal) {
      for (const ch of changes) checkDest(ch.dest);
      const writes = changes.filter((ch) => ch.kind !== 'delete');
      const deletes = changes.filter((ch) => ch.kind === 'delete').map((ch) => ch.dest);
      // A deletion of a path the batch writes again (or of a directory it writes into) must come
      // first, or it would remove what was just written; every other one comes after the upload.
      const written = writes.map((w) => w.dest);
      const first = deletes.filter((d) => written.some((w) => w === d || w.startsWith(`${d}/`)));
      const after = deletes.filter((d) => !first.includes(d));
      const [info, entries, read] = await Promise.all([
        inspect(containerId, signal),
        first.length ? Promise.resolve(undefined) : entriesOf(containerId, writes, signal),
        readAhead(writes, signal),
      ]);
      if (!info) throw new DepotError('container_not_found', `container ${containerId} is gone`);
      if (!info.State?.Running || info.State.Paused) throw notRunning(containerId);
      await deletePaths(containerId, first, signal);
      if (writes.length > 0) {
        const all = entries ?? (await entriesOf(containerId, writes, signal));
        attachReadAhead(all, read);
        await upload(containerId, all, signal);
      }
      await deletePaths(containerId, after, signal);
      return { startedAt: info.State.StartedAt ?? '' };
    },

    async missing(containerId, dests, signal) {
      for (const d of dests) checkDest(d);
      const unique = [...new Set(dests)];
      const found = await mapLimit(unique, STAT_CONCURRENCY, (d) => exists(containerId, d, signal));
      return unique.filter((_, i) => !found[i]);
    },

    async exec(containerId, command, signal) {
      const what = `exec in container ${containerId}`;
      const r = await runExec(containerId, ['sh', '-c', command], undefined, signal, what);
      if (r.notFound)
        throw new DepotError(
          'sync_exec_unsupported',
          'cannot run the sync command in the container: its image has no sh',
          'add a shell to the image, or drop --sync-exec',
        );
      return { exitCode: r.exitCode, output: r.output };
    },

    async restart(containerId, signal) {
      const what = `restart of container ${containerId}`;
      const r = await call(
        {
          method: 'POST',
          path: c(containerId, `/restart?t=${RESTART_TIMEOUT_SEC}`),
          signal,
          timeoutMs: (RESTART_TIMEOUT_SEC + 30) * 1000,
        },
        what,
      );
      if (r.status >= 400) throw answerError(containerId, r.status, r.body, what);
    },

    async hashes(containerId, dests, signal) {
      for (const d of dests) checkDest(d);
      const out = new Map<string, string | undefined>();
      const todo = [...new Set(dests)];
      const worker = async () => {
        for (let d = todo.shift(); d !== undefined; d = todo.shift())
          out.set(d, await hashOf(containerId, d));
      };
      await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, todo.length) }, worker));
      return new Map(dests.map((d) => [d, out.get(d)]));

      async function hashOf(id: string, dest: string): Promise<string | undefined> {
        const what = `reading ${dest} in container ${id}`;
        let res: http.IncomingMessage;
        try {
          res = await api.request({
            method: 'GET',
            path: c(id, `/archive?path=${encodeURIComponent(dest)}`),
            signal,
          });
        } catch (err) {
          throw failure(err, what, signal);
        }
        const status = res.statusCode ?? 500;
        if (status === 404) {
          const body = await readBody(res).catch(() => Buffer.alloc(0));
          if (/no such container/i.test(errorMessage(body, status)))
            throw new DepotError('container_not_found', `${what} failed: container ${id} is gone`);
          return undefined;
        }
        if (status >= 400) throw answerError(id, status, await readBody(res), what);
        // The stat header says what the path is before any byte of a (perhaps huge) directory comes.
        const mode = statMode(res.headers['x-docker-container-path-stat']);
        if (mode !== undefined && (mode >= GO_MODE_DIR || Math.floor(mode / GO_MODE_SYMLINK) % 2 === 1)) {
          res.destroy();
          return undefined;
        }
        try {
          return await firstFileHash(res);
        } catch (err) {
          throw failure(err, what, signal);
        } finally {
          res.destroy();
        }
      }
    },

    async startedAt(containerId, signal) {
      const info = await inspect(containerId, signal);
      return info?.State?.Running ? (info.State.StartedAt ?? '') : '';
    },
  };
}

/**
 * Reads the batch's small files now and stats the big ones: a source that cannot be read fails
 * the batch before anything reaches the container. Value: the content, or the size to stream.
 */
async function readAhead(writes: SyncChange[], signal?: AbortSignal): Promise<Map<string, Buffer | number>> {
  const out = new Map<string, Buffer | number>();
  let budget = READ_AHEAD_TOTAL;
  for (const ch of writes) {
    if (ch.kind !== 'file') continue;
    if (signal?.aborted) throw cancelled();
    let fh: FileHandle | undefined;
    try {
      fh = await open(ch.source, 'r');
      const st = await fh.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      if (st.size <= READ_AHEAD_FILE && st.size <= budget) {
        const data = await fh.readFile();
        budget -= data.length;
        out.set(ch.dest, data);
      } else out.set(ch.dest, st.size);
    } catch (err) {
      if (signal?.aborted) throw cancelled();
      throw new DepotError(
        'sync_source_failed',
        `cannot read ${ch.source}: ${(err as Error).message}`,
        undefined,
        {
          cause: err,
        },
      );
    } finally {
      await fh?.close();
    }
  }
  return out;
}

function attachReadAhead(entries: Entry[], read: Map<string, Buffer | number>): void {
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    const v = read.get(e.change.dest);
    if (Buffer.isBuffer(v)) {
      e.data = v;
      e.size = v.length;
    } else if (typeof v === 'number') e.size = v;
  }
}

async function writeEntries(pack: tar.Pack, entries: Entry[], signal?: AbortSignal): Promise<void> {
  const mtime = new Date();
  for (const e of entries) {
    signal?.throwIfAborted();
    const base = { name: e.name, mtime, uname: '', gname: '' };
    if (e.kind === 'dir')
      await entryDone(pack, { ...base, type: 'directory', mode: e.mode & 0o7777, uid: e.uid, gid: e.gid });
    else if (e.kind === 'symlink')
      await entryDone(pack, {
        ...base,
        type: 'symlink',
        linkname: e.change.target,
        mode: 0o777,
        uid: e.change.uid,
        gid: e.change.gid,
      });
    else {
      const header: HeaderArg = {
        ...base,
        type: 'file',
        mode: e.change.mode & 0o7777,
        uid: e.change.uid,
        gid: e.change.gid,
        size: e.size,
      };
      if (e.data) await entryDone(pack, header, e.data);
      else await streamFile(pack, header, e.change.source, e.size, signal);
    }
  }
  pack.finalize();
}

/** A big file, streamed from disk: exactly the size announced, or the batch fails (it changed meanwhile). */
async function streamFile(
  pack: tar.Pack,
  header: HeaderArg,
  source: string,
  size: number,
  signal?: AbortSignal,
): Promise<void> {
  let onDone!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    onDone = (err) => (err ? reject(err) : resolve());
  });
  done.catch(() => undefined);
  const sink = pack.entry(header, (err) => onDone(err));
  // Failures reach us through the entry callback; the sink's own error event would be unhandled.
  sink.on('error', () => undefined);
  const changed = () =>
    new DepotError('sync_source_failed', `${source} changed while it was being synced`, 'save it again');
  let written = 0;
  const fh = await open(source, 'r').catch((err: Error) => {
    throw new DepotError('sync_source_failed', `cannot read ${source}: ${err.message}`, undefined, {
      cause: err,
    });
  });
  try {
    for await (const chunk of fh.createReadStream({ end: size, autoClose: false }) as AsyncIterable<Buffer>) {
      const buf = written + chunk.length > size ? chunk.subarray(0, size - written) : chunk;
      written += buf.length;
      if (buf.length && !sink.write(buf)) await once(sink, 'drain', { signal });
      if (written >= size) break;
    }
  } finally {
    await fh.close();
  }
  if (written !== size) throw changed();
  sink.end(Buffer.alloc(0));
  await done;
}

/** sha256 of the first entry of a tar stream when it is a regular file; the rest is never read. */
function firstFileHash(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const extract = tar.extract();
    let settled = false;
    const finish = (v: string | undefined, err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(v);
      extract.destroy();
    };
    extract.on('entry', (h, entry, next) => {
      if (h.type !== 'file') {
        finish(undefined);
        return;
      }
      const hash = createHash('sha256');
      entry.on('data', (d: unknown) => hash.update(d as Buffer));
      entry.on('end', () => {
        finish(hash.digest('hex'));
        next();
      });
      entry.on('error', (err: Error) => finish(undefined, err));
    });
    extract.on('finish', () => finish(undefined));
    extract.on('error', (err: Error) => finish(undefined, err));
    stream.on('error', (err: Error) => finish(undefined, err));
    stream.pipe(extract);
  });
}

/** The mode of an archive stat header (base64 JSON), undefined when absent or unreadable. */
function statMode(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string') return undefined;
  try {
    const j = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { mode?: unknown };
    return typeof j.mode === 'number' ? j.mode : undefined;
  } catch {
    return undefined;
  }
}

/** Container paths are absolute and plain: no `.`/`..` segments, never the root itself. */
function checkDest(dest: string): void {
  const bad =
    !dest.startsWith('/') ||
    dest === '/' ||
    dest.includes('\0') ||
    dest.endsWith('/') ||
    dest
      .slice(1)
      .split('/')
      .some((s) => s === '' || s === '.' || s === '..');
  if (bad)
    throw new DepotError(
      'sync_invalid_path',
      `cannot sync to ${JSON.stringify(dest)}: not a plain absolute path`,
    );
}

function notRunning(id: string, what?: string): DepotError {
  return new DepotError(
    'container_not_running',
    `${what ? `${what} failed: ` : ''}the container is not running`,
    `container ${id}; the dev loop starts a new one on the next build`,
  );
}

function cancelled(): DepotError {
  return Object.assign(new DepotError('cancelled', 'container sync cancelled'), { name: 'AbortError' });
}

/** A connection-level failure as a DepotError: cancelled when the caller aborted, else unreachable. */
function failure(err: unknown, what: string, signal?: AbortSignal): DepotError {
  if (signal?.aborted) return cancelled();
  if (err instanceof DepotError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new DepotError(
    'engine_unreachable',
    `${what} failed: ${msg}`,
    'is the local Docker engine running?',
    {
      cause: err,
    },
  );
}

/** `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function describe(paths: string[]): string {
  return paths.length === 1 ? paths[0]! : `${paths.length} paths`;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
