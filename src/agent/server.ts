/**
 * The local agent (`depot agent run`, started on demand by `depot build`): one per user. It keeps,
 * per context it has seen, a watcher (the one `depot dev` uses) and the last scan in memory, so a
 * build of an unchanged tree walks nothing and a build after an edit re-examines only what the
 * watcher named; and, per builder, a warm channel, its Hello and the snapshot it acknowledged, so a
 * sync of an unchanged context is one round trip. It exits after an idle period.
 *
 * Never a stale context: before it answers, the agent lets every file event the kernel queued
 * before the request arrive (the request's bytes reached the socket after the edit's event reached
 * the watch queue, so one turn of the event loop delivers it), re-walks directories created in the
 * last moments (their own watch may not be set up yet), and walks the whole context after a watcher
 * error, an overflow, a fallback to polling, a change of the ignore rules, or its own restart.
 *
 * The same watcher feeds `watch` connections (each `depot dev` session): one watcher per context
 * however many terminals use it, its changes coalesced per subscriber and bounded (a subscriber that
 * falls behind gets one `rescan` instead of an unbounded backlog).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { relative, resolve, sep } from 'node:path';
import {
  type ContextScan,
  type ContextWatcher,
  createContextWatcher,
  dockerfileEntry,
  scanContext,
  updateScan,
} from '../context-sync/index.js';
import { touchesScope } from '../dockerfile/context-scope.js';
import { processAlive } from '../durable-file/index.js';
import { DepotError } from '../errors/index.js';
import { compileInclude } from '../protocol/index.js';
import {
  type BuilderSession,
  ContentChangedError,
  createBuilderSession,
  type SyncBase,
} from '../session/index.js';
import { Frame, frame } from './frames.js';
import { type AgentPaths, ensureAgentDir } from './paths.js';
import {
  AGENT_PROTOCOL,
  type AgentContextStatus,
  type AgentMessage,
  type AgentRequest,
  type BuilderRef,
  lineReader,
  MAX_REQUEST_BYTES,
  MAX_WATCH_BUFFERED,
  MAX_WATCH_MESSAGE_BYTES,
  MAX_WATCH_PATHS,
  MAX_WATCH_PENDING,
  MAX_WATCH_SUBSCRIBERS,
  type RunRequest,
} from './protocol.js';
import type { WorkerReady, WorkerTask, WorkerWarm } from './worker.js';

export interface AgentOptions {
  paths: AgentPaths;
  /** Exit after this long without a request; default 30 min. */
  idleExitMs: number;
  version: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /**
   * The depot entry script a warm worker runs (`BIN agent worker`); without it builds are not
   * run here (`run` is declined) and only the syncs are served.
   */
  workerBin?: string;
}

/** Contexts (and builders) kept at once; the least recently used goes first. */
const MAX_CONTEXTS = 16;
const MAX_BUILDERS = 8;
/** Directories created this recently are re-walked at every answer (their watch may lag). */
const NEW_DIR_WINDOW_MS = 2000;
/** After an edit settles this long, the context is synced in the background to its last builder. */
const PRESYNC_QUIET_MS = 300;
/** A build waits this long for a worker still warming up; past it, the client runs the build itself. */
const WORKER_WAIT_MS = 3000;
/** Workers that die before they are ready, in a row, before the agent stops starting them. */
const WORKER_FAILURES_MAX = 3;

interface Worker {
  child: ChildProcess;
  ready: Promise<WorkerReady['ready'] | undefined>;
  isReady: boolean;
}

interface Watched {
  key: string;
  root: string;
  dockerfile?: string;
  watcher: ContextWatcher;
  /** Resolves once the watcher is live (false: it could not start). */
  ready: Promise<boolean>;
  live: boolean;
  contexts: Set<ContextState>;
  /** Paths reported recently, by when: re-examined again while young. */
  recent: Map<string, number>;
  /** How the watcher started (polling, and why). */
  started?: { polling: boolean; message: string };
  /** Why the ignore file cannot be used now ('' while valid): told to each new subscriber. */
  ignoreError: string;
  subscribers: Set<Subscriber>;
}

/** One `watch` connection: its changes wait here until the next turn of the loop (coalesced). */
interface Subscriber {
  send: (m: AgentMessage) => boolean;
  pending: Set<string>;
  /** Too much waiting (or unsent): the next message is one `rescan`. */
  overflow: boolean;
  flushing: boolean;
}

interface ContextState {
  key: string;
  root: string;
  dockerfile?: string;
  scope?: string[];
  scan?: ContextScan;
  dirty: Set<string>;
  /** Anything may have changed: walk afresh. */
  stale: boolean;
  watched: Watched;
  counts: { reused: number; updated: number; walked: number };
  lastUsed: number;
  /** One answer at a time per context. */
  queue: Promise<unknown>;
  /** The last build's sync: repeated in the background after an edit (pre-sync). */
  last?: Extract<AgentRequest, { op: 'sync' }>;
  presync?: NodeJS.Timeout;
  presyncs: number;
}

interface BuilderState {
  session: BuilderSession;
  builderId?: string;
  bases: Map<string, SyncBase>;
  lastUsed: number;
}

/** Takes the agent lock (a file holding the pid); false when a live agent holds it. */
function takeLock(lock: string): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let pid = 0;
      try {
        pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
      } catch {
        continue;
      }
      if (pid > 0 && pid !== process.pid && processAlive(pid)) return false;
      rmSync(lock, { force: true });
    }
  }
  return false;
}

function lockHolder(lock: string): number {
  try {
    return Number.parseInt(readFileSync(lock, 'utf8'), 10);
  } catch {
    return 0;
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

const builderKey = (ref: BuilderRef) => JSON.stringify([ref.url, ref.token, ref.project, ref.transport]);

/** Runs the agent until it is stopped or idle; resolves false when another agent already runs. */
export async function runAgent(opts: AgentOptions): Promise<boolean> {
  const { paths, log } = opts;
  ensureAgentDir(paths);
  if (!takeLock(paths.lock)) {
    log('another agent is running', { pid: lockHolder(paths.lock) });
    return false;
  }
  rmSync(paths.socket, { force: true });
  const watchers = new Map<string, Watched>();
  const contexts = new Map<string, ContextState>();
  const builders = new Map<string, BuilderState>();
  const startedAt = new Date().toISOString();
  let idle: NodeJS.Timeout | undefined;
  let active = 0;
  let spare: Worker | undefined;
  let workerFailures = 0;
  let runs = 0;
  let stopping = false;
  /** The builder of the last sync: the spare worker keeps a channel to it open. */
  let lastBuilder: BuilderRef | undefined;
  const warmSpare = () => {
    if (spare?.isReady && lastBuilder && spare.child.connected)
      spare.child.send({ warm: lastBuilder } satisfies WorkerWarm, (err) => {
        if (err) log('warming the worker failed', { err: err.message });
      });
  };
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => {
    stop = r;
  });
  const touch = () => {
    if (idle) clearTimeout(idle);
    idle = active > 0 ? undefined : setTimeout(() => stop(), opts.idleExitMs);
    idle?.unref();
  };

  const watcherFor = (root: string, dockerfile: string | undefined): Watched => {
    const key = `${root}\0${dockerfile ?? ''}`;
    const have = watchers.get(key);
    if (have) return have;
    const watcher = createContextWatcher({ contextDir: root, dockerfile });
    const w: Watched = {
      key,
      root,
      dockerfile,
      watcher,
      ready: Promise.resolve(false),
      live: false,
      contexts: new Set(),
      recent: new Map(),
      ignoreError: '',
      subscribers: new Set(),
    };
    const markAll = (mark: (c: ContextState) => void) => {
      for (const c of w.contexts) mark(c);
    };
    const notifyAll = (m: AgentMessage) => {
      for (const sub of w.subscribers) sub.send(m);
    };
    w.ready = watcher
      .start({
        onChange: (changed) => {
          const now = Date.now();
          for (const p of changed) w.recent.set(p, now);
          markAll((c) => {
            for (const p of changed) {
              if (p === '.' || p.startsWith('../')) c.stale = true;
              else c.dirty.add(p);
            }
            schedulePresync(c);
          });
          for (const sub of w.subscribers) queueChanges(sub, changed);
        },
        onError: (message, polling) => {
          log('watcher error: walking afresh', { context: root, message });
          markAll((c) => {
            c.stale = true;
          });
          if (w.started) w.started = { polling, message };
          notifyAll({ rescan: { reason: message, failed: { polling } } });
        },
        onIgnoreRules: (error) => {
          markAll((c) => {
            c.stale = true;
          });
          w.ignoreError = error;
          notifyAll({ ignoreRules: { error } });
        },
      })
      .then(
        (started) => {
          w.started = started;
          w.live = true;
          return true;
        },
        (err: unknown) => {
          log('watcher failed to start', { context: root, err: String(err) });
          return false;
        },
      );
    watchers.set(key, w);
    return w;
  };

  const dropContext = (c: ContextState) => {
    if (c.presync) clearTimeout(c.presync);
    contexts.delete(c.key);
    c.watched.contexts.delete(c);
    releaseWatcher(c.watched);
  };

  /** Closes a watcher nothing uses any more (no scan of it kept, no subscriber). */
  const releaseWatcher = (w: Watched) => {
    if (w.contexts.size > 0 || w.subscribers.size > 0 || watchers.get(w.key) !== w) return;
    watchers.delete(w.key);
    void w.watcher.close();
  };

  let subscribers = 0;
  /** Open `watch` connections: closed when the agent stops (their clients then watch themselves). */
  const watchSockets = new Set<Socket>();

  /** Adds changed paths to a subscriber's next message; sends them on the next turn of the loop. */
  function queueChanges(sub: Subscriber, changed: string[]): void {
    if (!sub.overflow) for (const p of changed) sub.pending.add(p);
    if (sub.pending.size > MAX_WATCH_PENDING) {
      sub.overflow = true;
      sub.pending.clear();
    }
    if (sub.flushing) return;
    sub.flushing = true;
    setImmediate(() => flushChanges(sub));
  }

  function flushChanges(sub: Subscriber): void {
    sub.flushing = false;
    if (sub.overflow) {
      // Sent once the socket drained (see `watch`): until then nothing more is queued.
      if (sub.send({ rescan: { reason: 'too many changes at once' } })) sub.overflow = false;
      sub.pending.clear();
      return;
    }
    let batch: string[] = [];
    let bytes = 0;
    for (const p of sub.pending) {
      if (batch.length >= MAX_WATCH_PATHS || bytes + p.length > MAX_WATCH_MESSAGE_BYTES) {
        if (!sub.send({ changed: { paths: batch } })) break;
        batch = [];
        bytes = 0;
      }
      batch.push(p);
      bytes += p.length + 4;
    }
    if (!sub.overflow && batch.length) sub.send({ changed: { paths: batch } });
    sub.pending.clear();
  }

  /** Streams the changes of a context to one client until it goes away. */
  const watch = async (req: Extract<AgentRequest, { op: 'watch' }>, sock: Socket): Promise<void> => {
    if (
      typeof req.contextDir !== 'string' ||
      (req.dockerfile !== undefined && typeof req.dockerfile !== 'string')
    )
      throw new DepotError('agent_bad_request', 'watch needs a context directory');
    if (subscribers >= MAX_WATCH_SUBSCRIBERS)
      throw new DepotError('agent_busy', `the agent already serves ${subscribers} watch connections`);
    const root = resolve(req.contextDir);
    const w = watcherFor(root, req.dockerfile);
    subscribers++;
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    watchSockets.add(sock);
    const sub: Subscriber = {
      // A subscriber that does not read is not buffered for without bound: it gets a rescan once
      // it drains.
      send: (m) => {
        if (sock.destroyed) return false;
        if (sock.writableLength > MAX_WATCH_BUFFERED) {
          sub.overflow = true;
          return false;
        }
        sock.write(`${JSON.stringify(m)}\n`);
        return true;
      },
      pending: new Set(),
      overflow: false,
      flushing: false,
    };
    sock.on('drain', () => {
      if (sub.overflow) queueChanges(sub, []);
    });
    try {
      const live = await w.ready;
      if (!live || !w.started) throw new DepotError('agent_watch_failed', `cannot watch ${root}`);
      if (sock.destroyed) return;
      w.subscribers.add(sub);
      sub.send({ watching: w.started });
      if (w.ignoreError) sub.send({ ignoreRules: { error: w.ignoreError } });
      log('watch subscribed', { context: root, subscribers: w.subscribers.size });
      await closed;
    } finally {
      watchSockets.delete(sock);
      subscribers--;
      w.subscribers.delete(sub);
      releaseWatcher(w);
    }
  };

  const contextFor = (
    root: string,
    dockerfile: string | undefined,
    scope: string[] | undefined,
  ): ContextState => {
    const key = `${root}\0${dockerfile ?? ''}\0${scope ? JSON.stringify([...scope].sort()) : '*'}`;
    let c = contexts.get(key);
    if (!c) {
      if (contexts.size >= MAX_CONTEXTS) {
        const oldest = [...contexts.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0]!;
        dropContext(oldest);
      }
      const watched = watcherFor(root, dockerfile);
      c = {
        key,
        root,
        dockerfile,
        scope,
        dirty: new Set(),
        stale: true,
        watched,
        counts: { reused: 0, updated: 0, walked: 0 },
        lastUsed: Date.now(),
        queue: Promise.resolve(),
        presyncs: 0,
      };
      watched.contexts.add(c);
      contexts.set(key, c);
    }
    c.lastUsed = Date.now();
    return c;
  };

  /** The context's scan as a fresh walk would give it now. */
  const currentScan = async (
    c: ContextState,
    onHash: (p: { files: number; filesTotal: number; bytes: number; bytesTotal: number }) => void,
  ): Promise<{ scan: ContextScan; how: 'reused' | 'updated' | 'walked' }> => {
    const live = await c.watched.ready;
    // Events the kernel queued before this request: delivered within a turn or two of the loop.
    await tick();
    await tick();
    const now = Date.now();
    for (const [p, at] of c.watched.recent) {
      if (now - at > NEW_DIR_WINDOW_MS) c.watched.recent.delete(p);
      else c.dirty.add(p);
    }
    const opts = { contextDir: c.root, dockerfile: c.dockerfile, scope: c.scope, onProgress: onHash };
    if (!live || !c.watched.live || c.stale || !c.scan) {
      c.stale = false;
      c.dirty.clear();
      c.scan = await scanContext(opts);
      return { scan: c.scan, how: 'walked' };
    }
    const dirty = [...c.dirty];
    c.dirty.clear();
    if (dirty.length === 0) return { scan: c.scan, how: 'reused' };
    if (c.scope) {
      const scope = c.scan.scope ?? c.scope;
      const include = scope.map(compileInclude);
      if (!dirty.some((p) => touchesScope(include, p))) return { scan: c.scan, how: 'reused' };
      c.scan = await scanContext(opts);
      return { scan: c.scan, how: 'walked' };
    }
    c.scan = await updateScan(c.scan, dirty, opts);
    return { scan: c.scan, how: 'updated' };
  };

  const builderFor = (ref: BuilderRef): BuilderState => {
    const key = builderKey(ref);
    let b = builders.get(key);
    if (!b) {
      if (builders.size >= MAX_BUILDERS) {
        const [oldKey, oldest] = [...builders].sort((x, y) => x[1].lastUsed - y[1].lastUsed)[0]!;
        oldest.session.close();
        builders.delete(oldKey);
      }
      b = {
        session: createBuilderSession({
          url: ref.url,
          token: ref.token,
          project: ref.project || undefined,
          transport: ref.transport,
        }),
        bases: new Map(),
        lastUsed: Date.now(),
      };
      builders.set(key, b);
    }
    b.lastUsed = Date.now();
    return b;
  };

  const sync = async (
    req: Extract<AgentRequest, { op: 'sync' }>,
    send: (m: AgentMessage) => void,
    background = false,
  ) => {
    const root = resolve(req.contextDir);
    const c = contextFor(root, req.dockerfile, req.scope);
    if (!background) {
      // A build's own sync: a pre-sync still waiting for quiet is not needed any more.
      if (c.presync) clearTimeout(c.presync);
      c.presync = undefined;
      if (!lastBuilder || builderKey(lastBuilder) !== builderKey(req.builder)) {
        lastBuilder = req.builder;
        warmSpare();
      }
    }
    const run = c.queue.then(async () => {
      const b = builderFor(req.builder);
      const hello = b.builderId ? undefined : b.session.hello();
      let out: Awaited<ReturnType<BuilderSession['sync']>>;
      let scan: ContextScan;
      let how: 'reused' | 'updated' | 'walked';
      let base: SyncBase | undefined;
      const baseKey = `${req.builder.project}\0${root}`;
      for (let attempt = 0; ; attempt++) {
        ({ scan, how } = await currentScan(c, (p) => send({ progress: { phase: 'hashing', ...p } })));
        if (attempt === 0 && !background) {
          c.counts[how]++;
          send({ started: { entries: scan.entries.length } });
        }
        if (hello) b.builderId = (await hello).builderId;
        base = b.bases.get(baseKey);
        if (!base) {
          const { loadSyncBase } = await import('../session/index.js');
          base = await loadSyncBase(b.builderId!, req.builder.project, root);
        }
        try {
          out = await b.session.sync(scan, base, undefined, (p) =>
            send({ progress: { phase: 'uploading', ...p } }),
          );
          break;
        } catch (err) {
          // A file changed while it was being sent: look at it again and sync again.
          if (err instanceof ContentChangedError && attempt < 3) {
            c.dirty.add(relative(scan.contextDir, err.file).split(sep).join('/'));
            continue;
          }
          // A channel that failed is opened afresh next time (the builder may have restarted).
          b.session.close();
          builders.delete(builderKey(req.builder));
          throw err;
        }
      }
      if (out.snapshotId !== base?.snapshotId) {
        const acked = { snapshotId: out.snapshotId, entries: scan.entries };
        b.bases.set(baseKey, acked);
        const { saveSyncBase } = await import('../session/index.js');
        await saveSyncBase(b.builderId!, req.builder.project, root, acked);
      } else if (base) b.bases.set(baseKey, base);
      const dockerfilePath = dockerfileEntry(scan.entries, scan.contextDir, req.dockerfile);
      send({
        done: {
          snapshotId: out.snapshotId,
          entries: out.entries,
          totalBytes: out.totalBytes,
          bytesSent: out.bytesSent,
          blobsSent: out.blobsSent,
          filesChanged: out.filesChanged,
          delta: out.delta,
          scope: scan.scope,
          dockerfilePath,
          scan: how,
          builderId: b.builderId!,
        },
      });
      if (background) c.presyncs++;
      else c.last = req;
      log(background ? 'pre-synced' : 'synced', {
        context: root,
        scope: scan.scope?.length,
        scan: how,
        blobs: out.blobsSent,
      });
    });
    c.queue = run.catch(() => {});
    await run;
  };

  /** Syncs an edited context to the builder of its last build, once the edits settle. */
  function schedulePresync(c: ContextState): void {
    if (!c.last) return;
    if (c.presync) clearTimeout(c.presync);
    c.presync = setTimeout(() => {
      c.presync = undefined;
      const req = c.last;
      if (!req || !contexts.has(c.key)) return;
      sync(req, () => {}, true).catch((err: unknown) =>
        log('pre-sync failed', { context: c.root, err: (err as Error).message }),
      );
    }, PRESYNC_QUIET_MS);
    c.presync.unref();
  }

  /** Starts the next warm worker: it loads what a build loads now, before a build asks. */
  const startWorker = () => {
    if (!opts.workerBin || stopping || spare || workerFailures >= WORKER_FAILURES_MAX) return;
    const child = spawn(process.execPath, [opts.workerBin, 'agent', 'worker'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: '/',
      env: process.env,
    });
    const w: Worker = { child, isReady: false, ready: Promise.resolve(undefined) };
    const t0 = Date.now();
    w.ready = new Promise((resolve) => {
      child.on('message', (m: Partial<WorkerReady>) => {
        if (!m?.ready) return;
        w.isReady = true;
        workerFailures = 0;
        log('warm worker ready', { pid: child.pid, ms: Date.now() - t0 });
        warmSpare();
        resolve(m.ready);
      });
      child.once('exit', (code, signal) => {
        if (!w.isReady) {
          workerFailures++;
          log('warm worker ended before it was ready', { code, signal, failures: workerFailures });
        }
        if (spare === w) spare = undefined;
        resolve(undefined);
      });
      child.once('error', (err) => {
        log('warm worker failed to start', { err: err.message });
        if (spare === w) spare = undefined;
        resolve(undefined);
      });
    });
    spare = w;
  };

  /** Hands a client's `depot build` and its connection to the warm worker, or declines it. */
  const run = async (req: RunRequest, sock: Socket) => {
    const decline = (why: string) => sock.end(frame(Frame.declined, why));
    if (req.protocol !== AGENT_PROTOCOL) return decline('another agent protocol');
    startWorker();
    const w = spare;
    if (!w) return decline('no warm worker');
    let waited: NodeJS.Timeout | undefined;
    const ready = await Promise.race([
      w.ready,
      new Promise<undefined>((r) => {
        waited = setTimeout(() => r(undefined), WORKER_WAIT_MS);
      }),
    ]);
    clearTimeout(waited);
    // Another build took it meanwhile, or it is not up in time: the client runs its build itself.
    if (!ready || spare !== w) return decline('no warm worker ready');
    // A worker runs the agent's depot; a client of another installation runs its own code.
    if (ready.bin !== req.bin) return decline('another depot installation');
    spare = undefined;
    runs++;
    w.child.send({ run: req } satisfies WorkerTask, sock, (err) => {
      if (err) {
        log('handing a build to the worker failed', { err: err.message });
        sock.destroy();
      }
    });
    startWorker();
  };

  const status = (): AgentMessage => ({
    status: {
      protocol: AGENT_PROTOCOL,
      version: opts.version,
      pid: process.pid,
      startedAt,
      idleExitMs: opts.idleExitMs,
      builders: builders.size,
      runs,
      worker: spare ? (spare.isReady ? 'ready' : 'starting') : 'off',
      watchers: [...watchers.values()].map((w) => ({
        contextDir: w.root,
        dockerfile: w.dockerfile,
        live: w.live,
        polling: w.started?.polling ?? false,
        subscribers: w.subscribers.size,
      })),
      contexts: [...contexts.values()].map(
        (c): AgentContextStatus => ({
          contextDir: c.root,
          scope: c.scope,
          entries: c.scan?.entries.length ?? 0,
          watching: c.watched.live,
          scans: { ...c.counts },
          presyncs: c.presyncs,
        }),
      ),
    },
  });

  const serve = (sock: Socket) => {
    active++;
    if (idle) clearTimeout(idle);
    let handled = false;
    const send = (m: AgentMessage) => {
      if (!sock.destroyed) sock.write(`${JSON.stringify(m)}\n`);
    };
    const finish = () => {
      sock.end();
    };
    sock.on('close', () => {
      active--;
      touch();
    });
    sock.on('error', () => {});
    let read: (chunk: Buffer) => void;
    const onLine = (value: unknown) => {
      if (handled) return;
      handled = true;
      const req = value as AgentRequest;
      if (req.op === 'run') {
        // The connection now carries frames, and goes to the worker with the request. Until the
        // worker acknowledges it, this process holds the socket too: its handle must stop reading
        // (pause() alone leaves it reading into the stream's buffer), or it would swallow what the
        // client sends the worker in that moment.
        sock.removeAllListeners('data');
        sock.pause();
        (sock as unknown as { _handle?: { readStop?: () => number } })._handle?.readStop?.();
        void run(req, sock).catch((err: unknown) => {
          log('run failed', { err: String(err) });
          sock.destroy();
        });
        return;
      }
      const work = async () => {
        if (req.op === 'status') send(status());
        else if (req.op === 'stop') {
          send({ stopping: true });
          setImmediate(() => stop());
        } else if (req.op === 'sync') await sync(req, send);
        else if (req.op === 'watch') await watch(req, sock);
        else
          throw new DepotError(
            'agent_bad_request',
            `unknown agent request ${JSON.stringify((req as { op?: unknown }).op)}`,
          );
      };
      work()
        .catch((err: unknown) => {
          const e = err as { code?: unknown; message?: unknown; hint?: unknown; name?: string };
          send({
            error: {
              code:
                typeof e.code === 'string'
                  ? e.code
                  : e.name === 'ContextError'
                    ? 'context_error'
                    : 'agent_error',
              message: typeof e.message === 'string' ? e.message : String(err),
              hint: typeof e.hint === 'string' ? e.hint : undefined,
            },
          });
        })
        .finally(finish);
    };
    read = lineReader(onLine, MAX_REQUEST_BYTES);
    sock.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch (err) {
        send({ error: { code: 'agent_bad_request', message: (err as Error).message } });
        sock.destroy();
      }
    });
  };

  const server = createServer(serve);
  const oldUmask = process.umask(0o177);
  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(paths.socket, () => res());
    });
  } finally {
    process.umask(oldUmask);
  }
  // Two agents started at the very same moment over a stale lock: the one whose pid the lock
  // does not hold leaves.
  if (lockHolder(paths.lock) !== process.pid) {
    server.close();
    log('lost the lock to another agent');
    return false;
  }
  log('agent started', { pid: process.pid, socket: paths.socket, idleExitMs: opts.idleExitMs });
  touch();
  startWorker();
  const onSignal = () => stop();
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await stopped;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  log('agent stopping');
  stopping = true;
  spare?.child.kill();
  for (const c of contexts.values()) if (c.presync) clearTimeout(c.presync);
  contexts.clear();
  server.close();
  for (const sock of watchSockets) sock.destroy();
  for (const w of watchers.values()) await w.watcher.close().catch(() => {});
  for (const b of builders.values()) b.session.close();
  try {
    unlinkSync(paths.socket);
  } catch {}
  if (lockHolder(paths.lock) === process.pid) rmSync(paths.lock, { force: true });
  if (idle) clearTimeout(idle);
  return true;
}
