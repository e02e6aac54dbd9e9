/**
 * Fakes of the dev loop's ports, for tests without sleeps: a manual clock, a watcher you emit
 * changes from, a scriptable builder and a container runner that records what it was asked.
 */
import type { BuildEvent, VertexInfo } from '../progress/index.js';
import type { Clock, ContainerRunner, DevBuilder, Watcher, WatcherHandlers } from './ports.js';
import type { ContainerSyncer, SyncChange } from './sync-types.js';

/** Lets every queued microtask (and the promise chains they start) run. */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface FakeTimer {
  id: number;
  dueMs: number;
  fn: () => void;
}

/** A clock that only moves when told; timers run in due order (ties in creation order). */
export class FakeClock implements Clock {
  private t: number;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  constructor(startMs = 1_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.nextId++, dueMs: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.timers.length;
  }

  /** Due time of the next timer, or undefined. */
  nextDueMs(): number | undefined {
    return this.earliest(Number.POSITIVE_INFINITY)?.dueMs;
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the way, in order, at its
   * own time; microtasks settle before and after each timer so async work can schedule more.
   */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await flushMicrotasks();
    for (let next = this.earliest(target); next; next = this.earliest(target)) {
      this.timers = this.timers.filter((x) => x !== next);
      this.t = Math.max(this.t, next.dueMs);
      next.fn();
      await flushMicrotasks();
    }
    this.t = target;
    await flushMicrotasks();
  }

  private earliest(limit: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const x of this.timers) {
      if (x.dueMs > limit) continue;
      if (!best || x.dueMs < best.dueMs || (x.dueMs === best.dueMs && x.id < best.id)) best = x;
    }
    return best;
  }
}

/** A watcher driven by the test. */
export class FakeWatcher implements Watcher {
  handlers: WatcherHandlers | undefined;
  started = false;
  closed = false;
  startResult = { polling: false, message: 'watching (fake)' };
  /** When set, start() rejects with it. */
  startError: Error | undefined;

  async start(handlers: WatcherHandlers): Promise<{ polling: boolean; message: string }> {
    if (this.startError) throw this.startError;
    this.handlers = handlers;
    this.started = true;
    return this.startResult;
  }

  /** Reports changed paths (as the real watcher does, already filtered). */
  emit(paths: string[]): void {
    if (this.closed) return;
    this.handlers?.onChange(paths);
  }

  /** Reports a watcher failure. */
  fail(message: string, polling: boolean): void {
    if (this.closed) return;
    this.handlers?.onError(message, polling);
  }

  /** Reports the ignore file bad (`error`) or valid again (''). */
  ignoreRules(error: string): void {
    if (this.closed) return;
    this.handlers?.onIgnoreRules?.(error);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** The error a down builder fails with (the code `isConnectionError` knows). */
export class FakeConnectionError extends Error {
  readonly code = 'builder_unreachable';
  constructor(message = 'builder unreachable') {
    super(message);
  }
}

type BuildItem = { kind: 'event'; event: BuildEvent } | { kind: 'end' } | { kind: 'error'; error: unknown };

/** One build the fake builder was asked for; the test decides how it goes. */
export class FakeBuild {
  /** The loop's signal fired and the build stopped (what the engine cancel would do). */
  aborted = false;
  /** The stream ended (finished, failed, aborted or disconnected). */
  done = false;
  private queue: BuildItem[] = [];
  private wake: (() => void) | undefined;

  constructor(
    readonly snapshotId: string,
    readonly buildId: string,
    readonly signal: AbortSignal,
    private readonly owner: FakeDevBuilder,
  ) {}

  /** Streams events now (e.g. vertices) without ending the build. */
  push(...events: BuildEvent[]): void {
    for (const event of events) this.queue.push({ kind: 'event', event });
    this.notify();
  }

  /** Streams `vertices` (default: the builder's) and a good build/finished, then ends. */
  succeed(opts: { imageId?: string; vertices?: VertexInfo[] } = {}): void {
    const t = this.owner.clock?.now() ?? 0;
    const vertices = opts.vertices ?? this.owner.vertices;
    this.push(...vertices.map((vertex): BuildEvent => ({ type: 'vertex/updated', timeMs: t, vertex })));
    this.push({
      type: 'build/finished',
      timeMs: t,
      ok: true,
      imageId: opts.imageId ?? `sha256:image-${this.buildId}`,
      error: '',
      errorCode: '',
    });
    this.queue.push({ kind: 'end' });
    this.notify();
  }

  /** Streams a failed build/finished, then ends. */
  fail(error = 'step failed: exit code 1', errorCode = 'step_failed'): void {
    const t = this.owner.clock?.now() ?? 0;
    this.push({ type: 'build/finished', timeMs: t, ok: false, imageId: '', error, errorCode });
    this.queue.push({ kind: 'end' });
    this.notify();
  }

  /** The stream breaks as if the channel dropped. */
  disconnect(message = 'connection reset'): void {
    this.queue.push({ kind: 'error', error: new FakeConnectionError(message) });
    this.notify();
  }

  async *stream(): AsyncGenerator<BuildEvent> {
    const onAbort = () => this.notify();
    this.signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (this.signal.aborted) {
          this.markAborted();
          throw Object.assign(new Error('build cancelled'), { name: 'AbortError', code: 'cancelled' });
        }
        const item = this.queue.shift();
        if (!item) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          continue;
        }
        if (item.kind === 'end') return;
        if (item.kind === 'error') throw item.error;
        yield item.event;
      }
    } finally {
      // The consumer may also stop iterating after an abort instead of waiting for the throw.
      if (this.signal.aborted) this.markAborted();
      this.done = true;
      this.signal.removeEventListener('abort', onAbort);
    }
  }

  private markAborted(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.owner.cancelled.push(this.buildId);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Default graph of a fake build: a cached base, a COPY of src/, a RUN. */
export const FAKE_VERTICES: VertexInfo[] = [
  vertex('sha256:v-def', '[internal] load build definition from Dockerfile', false),
  vertex('sha256:v-from', '[1/4] FROM docker.io/library/busybox:latest', true),
  vertex('sha256:v-pkg', '[2/4] COPY package.json ./', true),
  vertex('sha256:v-src', '[3/4] COPY src/ ./src', false),
  vertex('sha256:v-run', '[4/4] RUN make', false),
];

/** A vertex for fake builds. */
export function vertex(digest: string, name: string, cached: boolean): VertexInfo {
  return { digest, name, inputs: [], cached, startedMs: 1, completedMs: 2, error: '' };
}

/** A scriptable DevBuilder that records every call. */
export class FakeDevBuilder implements DevBuilder {
  /** While true every call fails with FakeConnectionError. */
  down = false;
  /** The next N connects fail. */
  connectFailures = 0;
  /** While true builds wait for the test (succeed/fail/disconnect or abort); else they succeed at once. */
  holdBuilds = false;
  /** While true syncs wait for `releaseSync()`. */
  holdSyncs = false;
  /** The next N syncs fail with this (non-connection) error. */
  syncError: { count: number; message: string } | undefined;
  /** The next load fails with this message. */
  loadError: string | undefined;
  vertices: VertexInfo[] = FAKE_VERTICES;
  /** Used to stamp events; optional. */
  clock: Clock | undefined;
  latencyMs = 3;
  bytesPerPath = 100;

  connects = 0;
  pings = 0;
  closed = false;
  /** Every sync, in order: the changed paths or 'all'. */
  syncs: (string[] | 'all')[] = [];
  builds: FakeBuild[] = [];
  /** Build ids whose abort the builder saw. */
  cancelled: string[] = [];
  loads: string[] = [];
  /** Held syncs whose signal fired. */
  abortedSyncs = 0;
  /** Called for each new build (after `holdBuilds` was honoured). */
  onBuild: ((b: FakeBuild) => void) | undefined;

  private snapshots = 0;
  private heldSyncs: (() => void)[] = [];

  constructor(opts: { clock?: Clock } = {}) {
    this.clock = opts.clock;
  }

  async connect(): Promise<{ builderId: string; platform: string; latencyMs: number }> {
    this.connects++;
    if (this.down) throw new FakeConnectionError('connect ECONNREFUSED');
    if (this.connectFailures > 0) {
      this.connectFailures--;
      throw new FakeConnectionError('connect ECONNREFUSED');
    }
    return { builderId: 'fake-builder', platform: 'linux/amd64', latencyMs: this.latencyMs };
  }

  async ping(): Promise<number> {
    this.pings++;
    if (this.down) throw new FakeConnectionError('ping failed');
    return this.latencyMs;
  }

  async sync(
    changed: string[] | 'all',
    signal?: AbortSignal,
  ): Promise<{ snapshotId: string; entries: number; bytesSent: number }> {
    this.syncs.push(changed === 'all' ? 'all' : [...changed]);
    if (this.holdSyncs) {
      await new Promise<void>((resolve, reject) => {
        const release = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.heldSyncs = this.heldSyncs.filter((x) => x !== release);
          this.abortedSyncs++;
          reject(Object.assign(new Error('sync aborted'), { name: 'AbortError', code: 'cancelled' }));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.heldSyncs.push(release);
      });
    }
    if (this.down) throw new FakeConnectionError('sync: connection reset');
    if (this.syncError && this.syncError.count > 0) {
      this.syncError.count--;
      throw new Error(this.syncError.message);
    }
    this.snapshots++;
    return {
      snapshotId: `snap-${this.snapshots}`,
      entries: 10,
      bytesSent: changed === 'all' ? 1000 : changed.length * this.bytesPerPath,
    };
  }

  /** Syncs waiting on `holdSyncs`. */
  get heldSyncCount(): number {
    return this.heldSyncs.length;
  }

  /** Lets the oldest held sync go on. */
  releaseSync(): void {
    this.heldSyncs.shift()?.();
  }

  build(snapshotId: string, buildId: string, signal: AbortSignal): AsyncIterable<BuildEvent> {
    if (this.down) {
      const err = new FakeConnectionError('build: unavailable');
      return {
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }),
      };
    }
    const b = new FakeBuild(snapshotId, buildId, signal, this);
    this.builds.push(b);
    if (!this.holdBuilds) b.succeed();
    this.onBuild?.(b);
    return b.stream();
  }

  async load(imageId: string): Promise<{ bytes: number; imageSize: number }> {
    this.loads.push(imageId);
    if (this.down) throw new FakeConnectionError('load: unavailable');
    if (this.loadError !== undefined) {
      const msg = this.loadError;
      this.loadError = undefined;
      throw new Error(msg);
    }
    return { bytes: 2048, imageSize: 4096 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The latest build, for tests. */
  get lastBuild(): FakeBuild | undefined {
    return this.builds[this.builds.length - 1];
  }
}

interface Follower {
  id: string;
  onLines: (lines: string[]) => void;
  onExit: (code: number) => void;
  stopped: boolean;
}

/** A container runner that records replacements and lets the test emit logs and exits. */
export class FakeContainerRunner implements ContainerRunner {
  /** Image ids, in order of replace(). */
  replaced: string[] = [];
  /** The next replace fails with this message. */
  replaceError: string | undefined;
  followers: Follower[] = [];
  closed = false;
  private n = 0;

  async replace(imageId: string): Promise<{ id: string; name: string }> {
    if (this.replaceError !== undefined) {
      const msg = this.replaceError;
      this.replaceError = undefined;
      throw new Error(msg);
    }
    this.replaced.push(imageId);
    this.n++;
    return { id: `container-${this.n}`, name: 'depot-dev' };
  }

  follow(id: string, onLines: (lines: string[]) => void, onExit: (code: number) => void): () => void {
    const f: Follower = { id, onLines, onExit, stopped: false };
    this.followers.push(f);
    return () => {
      f.stopped = true;
    };
  }

  /** Emits log lines from the container followed last. */
  log(lines: string[]): void {
    const f = this.followers[this.followers.length - 1];
    if (f && !f.stopped) f.onLines(lines);
  }

  /** The followed container exits. */
  exit(code: number): void {
    const f = this.followers[this.followers.length - 1];
    if (f && !f.stopped) f.onExit(code);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.followers) f.stopped = true;
  }
}

/** A container filesystem and process for `--sync`, in memory. */
export class FakeContainerSyncer implements ContainerSyncer {
  /** Container path → content hash, per container id. */
  files = new Map<string, Map<string, string>>();
  /** Batches given to apply(), in order. */
  applied: Array<{ id: string; changes: SyncChange[] }> = [];
  execs: string[] = [];
  restarts = 0;
  /** Whether each container runs; absent means running. */
  stopped = new Set<string>();
  /** The next apply() fails with this message. */
  applyError: string | undefined;
  /** What a file's content hashes to in the container: the test's `local` map by source. */
  constructor(private readonly local: Map<string, string>) {}
  private starts = new Map<string, number>();

  fs(id: string): Map<string, string> {
    const m = this.files.get(id) ?? new Map<string, string>();
    this.files.set(id, m);
    return m;
  }

  async apply(id: string, changes: readonly SyncChange[]): Promise<{ startedAt: string }> {
    if (this.stopped.has(id))
      throw Object.assign(new Error('the container is not running'), { code: 'container_not_running' });
    if (this.applyError !== undefined) {
      const msg = this.applyError;
      this.applyError = undefined;
      throw new Error(msg);
    }
    this.applied.push({ id, changes: [...changes] });
    for (const c of changes) {
      if (c.kind === 'file') this.fs(id).set(c.dest, this.local.get(c.source) ?? 'missing');
      if (c.kind === 'delete') this.fs(id).delete(c.dest);
    }
    return { startedAt: await this.startedAt(id) };
  }

  /** Paths the image has: every path a test gave (`imageHas`), or all when none was given. */
  imageHas: Set<string> | undefined;

  async missing(_id: string, dests: readonly string[]): Promise<string[]> {
    return this.imageHas ? dests.filter((d) => !this.imageHas?.has(d)) : [];
  }

  async exec(_id: string, command: string): Promise<{ exitCode: number; output: string }> {
    this.execs.push(command);
    return { exitCode: 0, output: '' };
  }

  async restart(id: string): Promise<void> {
    this.restarts++;
    this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
  }

  async hashes(id: string, dests: readonly string[]): Promise<Map<string, string | undefined>> {
    return new Map(dests.map((d) => [d, this.fs(id).get(d)]));
  }

  async startedAt(id: string): Promise<string> {
    return this.stopped.has(id) ? '' : `start-${this.starts.get(id) ?? 0}`;
  }

  /** The container is restarted behind the session's back (its files stay). */
  restartBehind(id: string): void {
    this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
  }
}
