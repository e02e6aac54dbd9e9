/**
 * The `depot dev` controller: connects and keeps the session warm, coalesces watcher changes,
 * pre-syncs them at once, builds after the quiet period, loads the image and replaces the
 * container. All I/O goes through the ports; everything that happens is dispatched to the store.
 * Every async path ends in state (never a thrown error, never an unhandled rejection).
 */
import {
  type BuildEvent,
  createProgressThrottle,
  PROGRESS_EVENT_INTERVAL_MS,
  type ProgressThrottle,
  type SyncPhase,
} from '../progress/index.js';
import type { Clock, ContainerRunner, DevBuilder, Watcher } from './ports.js';
import type { Store } from './store.js';
import type { ContainerSyncer, SyncChange, SyncPlan, SyncSettings } from './sync-types.js';
import type { BuildTrigger, DevCommand, DevEvent, DevState, TriggerReason } from './types.js';

/** What the loop needs; timers come from `clock` so tests drive them. */
export interface DevLoopDeps {
  store: Store<DevState, DevEvent | DevCommand>;
  builder: DevBuilder;
  watcher: Watcher;
  /** With a runner, every good build replaces the container (`--run`). */
  runner?: ContainerRunner;
  clock: Clock;
  /** A build starts this long after the last change (default 200 ms)… */
  quietMs?: number;
  /** …but no later than this after the first change of the batch (default 10 s). */
  capMs?: number;
  /** A change during a build cancels it (default) or queues one trailing build. */
  onChange?: 'cancel' | 'queue';
  /** Latency probe period (default 5 s). */
  pingEveryMs?: number;
  /** Changes are pre-synced this long after the first unsynced one (default 25 ms). */
  presyncMs?: number;
  /** Builder URL for the header; defaults to the one in the initial state. */
  url?: string;
  /** Build ids; defaults to `dev-<base36 time>-<seq>`. */
  newBuildId?: (seq: number) => string;
  /** Which failures mean the channel is down (default: `isConnectionError`). */
  isConnectionError?: (err: unknown) => boolean;
  /** Sync and load progress is dispatched at most this often (default PROGRESS_EVENT_INTERVAL_MS). */
  progressIntervalMs?: number;
  /**
   * `--sync` (with `runner`): changes the rules cover go straight into the running container; the
   * image is still rebuilt and loaded, and the container is replaced only when it differs from it.
   */
  liveSync?: LiveSyncDeps;
}

/** What the loop needs for `--sync`. */
export interface LiveSyncDeps {
  /** What a batch of changed context paths means for the container (rules, --rebuild-on). */
  plan(paths: string[]): Promise<SyncPlan>;
  syncer: ContainerSyncer;
  settings: Pick<SyncSettings, 'exec' | 'restart'>;
  /** sha256 (hex) of a local file, undefined when it is gone (the drift check's expectation). */
  hashFile(path: string): Promise<string | undefined>;
  /** A live update starts this long after the last change of its batch (default 15 ms). */
  quietMs?: number;
  /** While the container is not running, how often to look whether it runs again (default 1 s). */
  pollMs?: number;
  /**
   * The image rebuild behind changes that all went live waits for this much quiet (default 2 s):
   * the container already has them, and a rebuild (and the load of its layers) during a burst of
   * saves would only slow the next live updates down.
   */
  holdMs?: number;
  /**
   * Called with every container depot starts; resolves when the rules have been checked against
   * it (a rule whose destination the image lacks is set aside and said so). Live updates wait for it.
   */
  checkContainer?(containerId: string, signal: AbortSignal): Promise<void>;
}

export interface DevLoop {
  /** Starts the watcher and the first connection; resolves once the watcher is up (or failed). */
  start(): Promise<void>;
  /** Applies a key press: dispatches it and acts on it. */
  command(c: DevCommand): void;
  /** Cancels the build, closes watcher, runner and builder; idempotent; never rejects. */
  stop(): Promise<void>;
}

/** Reconnect backoff: first delay, doubling up to the max. */
export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_MAX_MS = 10_000;

const CONNECTION_CODES = new Set<unknown>([
  'builder_unreachable',
  'unavailable',
  'connection_lost',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  14, // gRPC UNAVAILABLE
]);

/** Whether an error (or its cause) says the builder channel is down rather than the call failed. */
export function isConnectionError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    if (CONNECTION_CODES.has((e as { code?: unknown }).code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Backoff before reconnect attempt `attempt` (1-based). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_FIRST_MS * 2 ** Math.max(0, attempt - 1), RECONNECT_MAX_MS);
}

type Timer = unknown;

interface ActiveBuild {
  seq: number;
  buildId: string;
  trigger: BuildTrigger;
  ac: AbortController;
  phase: 'building' | 'loading' | 'starting';
  /** The loop let go of it (cancelled, connection lost, quit): its late results are ignored. */
  released: boolean;
}

/** Creates the dev loop controller over its ports. */
export function createDevLoop(deps: DevLoopDeps): DevLoop {
  const { store, builder, watcher, runner, clock } = deps;
  const quietMs = deps.quietMs ?? 200;
  const capMs = deps.capMs ?? 10_000;
  const mode = deps.onChange ?? 'cancel';
  const pingEveryMs = deps.pingEveryMs ?? 5000;
  const presyncMs = deps.presyncMs ?? 25;
  const progressIntervalMs = deps.progressIntervalMs ?? PROGRESS_EVENT_INTERVAL_MS;
  const url = deps.url ?? store.getState().session.url;
  const isConn = deps.isConnectionError ?? isConnectionError;
  const newBuildId = deps.newBuildId ?? ((seq: number) => `dev-${clock.now().toString(36)}-${seq}`);

  const life = new AbortController();
  let started = false;
  let stopping = false;
  let stopPromise: Promise<void> | undefined;

  // Connection: `gen` counts successful connects so that late failures of older calls are ignored.
  let conn: 'down' | 'connecting' | 'connected' = 'down';
  let gen = 0;
  let attempt = 0;
  let reconnectTimer: Timer | undefined;
  let pingTimer: Timer | undefined;

  // Changes: `dirty` is not yet on the builder; `batch` is not yet in a build (the next trigger).
  const dirty = new Set<string>();
  let needFull = true;
  let batch = new Set<string>();
  let batchFirstMs = 0;
  let quietTimer: Timer | undefined;
  let presyncTimer: Timer | undefined;
  let syncing = false;
  /** Aborts the sync in flight: a dropped channel must not leave it hanging. */
  let syncAc: AbortController | undefined;
  let syncFailed = '';
  let snapshotId = '';
  let paused = false;

  // Builds: `wanted` is the reason of the next build once nothing holds it back.
  let wanted: TriggerReason | undefined = 'initial';
  let seq = 0;
  let active: ActiveBuild | undefined;
  let containerId = '';
  // --sync: paths waiting for a live update, what went into the current container since it
  // started (checked against the next image), and whether the next good build must replace it.
  const live = deps.liveSync;
  const liveQuietMs = live?.quietMs ?? 15;
  const livePollMs = live?.pollMs ?? 1000;
  const holdMs = live?.holdMs ?? 2000;
  /** Whether the pending rebuild holds only changes the container already has (it waits longer). */
  let holding = false;
  let lastChangeMs = 0;
  let checked: Promise<void> = Promise.resolve();
  let liveBatch = new Set<string>();
  let liveFirstMs = 0;
  let liveTimer: Timer | undefined;
  let liveBusy = false;
  /** The live batch waits for a stopped container (polled): nothing else waits for it. */
  let liveWaiting = false;
  const synced = new Set<string>();
  let mustReplace = false;
  let startedAt = '';
  let stopFollow: (() => void) | undefined;
  let followToken = 0;
  let lastPendingKey = '';

  const now = () => clock.now();
  const emit = (e: DevEvent) => store.dispatch(e);

  function setTimer(fn: () => void, ms: number): Timer {
    return clock.setTimeout(
      () => {
        try {
          fn();
        } catch {
          // Timer callbacks only schedule work that reports its own failures.
        }
      },
      Math.max(0, ms),
    );
  }

  function clear(t: Timer | undefined): undefined {
    if (t !== undefined) clock.clearTimeout(t);
    return undefined;
  }

  function spawn(p: Promise<unknown>): void {
    p.catch(() => {
      // Every async path reports into the store itself; this only keeps rejections handled.
    });
  }

  // ---- connection ---------------------------------------------------------------------------

  async function connect(): Promise<void> {
    if (stopping) return;
    conn = 'connecting';
    if (attempt === 0) emit({ type: 'session/connecting', timeMs: now(), url });
    let info: Awaited<ReturnType<DevBuilder['connect']>>;
    try {
      info = await builder.connect(life.signal);
    } catch (err) {
      lostConnection(err, 'connect');
      return;
    }
    if (stopping) return;
    conn = 'connected';
    gen++;
    emit({ type: 'session/connected', timeMs: now(), url, ...info });
    schedulePing();
    // Sync again on every (re)connect: the builder resumes from the last acknowledged snapshot,
    // and a pending trigger builds as soon as this lands.
    await runSync(true);
  }

  /** The channel is down: back off and reconnect; a running build goes back to pending. */
  function lostConnection(err: unknown, from: number | 'connect'): void {
    if (stopping) return;
    if (from !== 'connect' && (conn !== 'connected' || from !== gen)) return;
    conn = 'down';
    pingTimer = clear(pingTimer);
    presyncTimer = clear(presyncTimer);
    syncAc?.abort(new Error('builder connection lost'));
    attempt++;
    const delay = reconnectDelayMs(attempt);
    emit({
      type: 'session/reconnecting',
      timeMs: now(),
      attempt,
      retryAtMs: now() + delay,
      error: message(err),
    });
    if (active?.phase === 'building') release(active, `builder connection lost: ${message(err)}`, 'retry');
    reconnectTimer = clear(reconnectTimer);
    reconnectTimer = setTimer(() => {
      reconnectTimer = undefined;
      spawn(connect());
    }, delay);
    updatePending();
  }

  function schedulePing(): void {
    pingTimer = clear(pingTimer);
    if (stopping || conn !== 'connected') return;
    pingTimer = setTimer(() => {
      pingTimer = undefined;
      spawn(ping());
    }, pingEveryMs);
  }

  async function ping(): Promise<void> {
    const g = gen;
    try {
      const latencyMs = await builder.ping(life.signal);
      if (stopping || g !== gen || conn !== 'connected') return;
      attempt = 0;
      emit({ type: 'session/latency', timeMs: now(), latencyMs });
      schedulePing();
    } catch (err) {
      lostConnection(err, g);
    }
  }

  // ---- changes and sync -----------------------------------------------------------------------

  function onChange(paths: string[]): void {
    if (stopping || paths.length === 0) return;
    const t = now();
    const fresh = batch.size === 0;
    for (const p of paths) {
      dirty.add(p);
      batch.add(p);
    }
    if (batchFirstMs === 0) batchFirstMs = t;
    lastChangeMs = t;
    syncFailed = ''; // a new change may well fix what the last sync tripped over
    if (paused) {
      emit({ type: 'watch/changed', timeMs: t, paths, quietUntilMs: 0 });
      updatePending();
      return;
    }
    // With a running container to update, a change is expected to go live: the rebuild waits
    // for the saves to pause. One that turns out not to (no rule, a failed update) ends the wait.
    holding =
      (holding || fresh) && live !== undefined && runner !== undefined && containerId !== '' && !mustReplace;
    const quietUntilMs = quietEnd(t);
    emit({ type: 'watch/changed', timeMs: t, paths, quietUntilMs });
    queueLive(paths, t);
    armQuiet(quietUntilMs - t);
    if (mode === 'cancel' && active?.phase === 'building') release(active, 'files changed', 'merge');
    schedulePresync();
    updatePending();
  }

  /** When the pending rebuild starts, with no more changes: after the quiet (or hold) period, within the cap. */
  function quietEnd(from: number): number {
    return Math.min(from + (holding ? holdMs : quietMs), batchFirstMs + capMs);
  }

  function armQuiet(delay: number): void {
    quietTimer = clear(quietTimer);
    quietTimer = setTimer(() => {
      quietTimer = undefined;
      wanted ??= 'change';
      maybeBuild();
    }, delay);
  }

  function schedulePresync(): void {
    if (presyncTimer !== undefined || stopping || paused || conn !== 'connected' || syncFailed) return;
    // A live update goes first: the builder's copy is for a rebuild that is not due yet, and the
    // two would share the machine in the ~100 ms the container update takes. runLive comes back.
    if ((liveTimer !== undefined && !liveWaiting) || liveBusy) return;
    if (dirty.size === 0 && !needFull) return;
    presyncTimer = setTimer(() => {
      presyncTimer = undefined;
      spawn(runSync(false));
    }, presyncMs);
  }

  /** While paused only a build that was asked for (initial, manual) takes the changes along. */
  function syncable(): boolean {
    return !paused || (wanted !== undefined && wanted !== 'change');
  }

  async function runSync(force: boolean): Promise<void> {
    presyncTimer = clear(presyncTimer);
    if (stopping || conn !== 'connected' || syncing) return;
    const full = needFull;
    const paths = full || !syncable() ? [] : [...dirty];
    if (!force && !full && paths.length === 0) return;
    needFull = false;
    for (const p of paths) dirty.delete(p);
    if (full) dirty.clear();
    syncing = true;
    const ac = new AbortController();
    syncAc = ac;
    const g = gen;
    emit({ type: 'sync/started', timeMs: now(), paths, full });
    updatePending();
    let failure: unknown;
    let failed = false;
    try {
      // One throttle per phase, each timed from its own start, like `depot build`'s events.
      const throttles = new Map<SyncPhase, ProgressThrottle>();
      const throttle = (phase: SyncPhase) => {
        let t = throttles.get(phase);
        if (!t) {
          t = createProgressThrottle(
            (r, timeMs) => {
              if (g === gen && !stopping)
                emit({ type: 'sync/progressed', timeMs, progress: { ...r, phase, timeMs } });
            },
            { intervalMs: progressIntervalMs, now },
          );
          throttles.set(phase, t);
        }
        return t;
      };
      const r = await builder.sync(full ? 'all' : paths, ac.signal, (phase, counts) =>
        throttle(phase).update(counts),
      );
      if (!stopping) {
        snapshotId = r.snapshotId;
        syncFailed = '';
        attempt = 0;
        emit({ type: 'sync/acked', timeMs: now(), ...r });
      }
    } catch (err) {
      failed = true;
      failure = err;
    }
    syncing = false;
    if (syncAc === ac) syncAc = undefined;
    if (stopping) return;
    if (failed) {
      if (full) needFull = true;
      for (const p of paths) dirty.add(p);
      emit({ type: 'sync/failed', timeMs: now(), error: message(failure) });
      // A sync of an older connection (aborted when it dropped) is simply redone after reconnecting.
      const stale = g !== gen || conn !== 'connected';
      if (isConn(failure)) lostConnection(failure, g);
      else if (!stale) syncFailed = message(failure);
    }
    // Paths that changed while this sync was in flight go next.
    schedulePresync();
    maybeBuild();
  }

  // ---- live updates (--sync) ----------------------------------------------------------------

  function queueLive(paths: string[], t: number): void {
    if (!live || !runner) return;
    for (const p of paths) liveBatch.add(p);
    if (liveFirstMs === 0) liveFirstMs = t;
    armLive(liveQuietMs);
  }

  function armLive(delay: number): void {
    liveTimer = clear(liveTimer);
    liveTimer = setTimer(() => {
      liveTimer = undefined;
      liveWaiting = false;
      spawn(runLive().finally(() => schedulePresync()));
    }, delay);
  }

  /** Applies the waiting paths to the running container, or says why they wait for a rebuild. */
  async function runLive(): Promise<void> {
    if (!live || stopping || liveBatch.size === 0) return;
    // One live update at a time; what came meanwhile goes next.
    if (liveBusy) return;
    // No container yet (or one being replaced): the build that is coming brings the files.
    if (containerId === '' || active?.phase === 'starting') {
      liveBatch = new Set();
      liveFirstMs = 0;
      unhold();
      return;
    }
    liveBusy = true;
    const paths = [...liveBatch];
    const firstMs = liveFirstMs;
    liveBatch = new Set();
    liveFirstMs = 0;
    const id = containerId;
    const gone = () => stopping || id !== containerId;
    try {
      await checked;
      const plan = await live.plan(paths);
      if (gone()) return;
      if (plan.kind === 'rebuild') {
        mustReplace = true;
        unhold();
        emit({ type: 'container/sync-skipped', timeMs: now(), reason: plan.reason });
        return;
      }
      // The upload's own inspect says whether the container runs, and since when: no extra call.
      let running: string;
      try {
        ({ startedAt: running } = await live.syncer.apply(id, plan.changes, life.signal));
      } catch (err) {
        if (!isNotRunning(err) || gone()) throw err;
        // Stopped (by hand, or it exited): these wait until it runs again.
        for (const p of paths) liveBatch.add(p);
        liveFirstMs = firstMs;
        emit({ type: 'container/sync-waiting', timeMs: now(), paths: liveBatch.size });
        liveBusy = false;
        armLive(livePollMs);
        liveWaiting = true;
        return;
      }
      // Started again behind the session's back: what it was given before goes in once more.
      const again =
        startedAt !== '' && running !== startedAt ? [...synced].filter((p) => !paths.includes(p)) : [];
      startedAt = running;
      const replayPlan = again.length ? await live.plan(again) : undefined;
      const replay: SyncChange[] = replayPlan?.kind === 'sync' ? replayPlan.changes : [];
      if (replay.length > 0) await live.syncer.apply(id, replay, life.signal);
      for (const p of paths) synced.add(p);
      let exec: { command: string; exitCode: number; output: string } | undefined;
      if (live.settings.exec) {
        const r = await live.syncer.exec(id, live.settings.exec, life.signal);
        exec = { command: live.settings.exec, ...r };
      }
      let restarted = false;
      if (live.settings.restart) {
        await live.syncer.restart(id, life.signal);
        startedAt = await live.syncer.startedAt(id, life.signal);
        restarted = true;
      }
      if (gone()) return;
      const changes = [...replay, ...plan.changes];
      emit({
        type: 'container/synced',
        timeMs: now(),
        paths: [...again, ...paths],
        files: changes.filter((c) => c.kind !== 'delete').length,
        deleted: changes.filter((c) => c.kind === 'delete').length,
        ms: Math.max(0, now() - firstMs),
        ...(exec ? { exec } : {}),
        ...(restarted ? { restarted } : {}),
      });
      hold();
    } catch (err) {
      if (gone()) return;
      mustReplace = true;
      unhold();
      emit({ type: 'container/sync-failed', timeMs: now(), error: message(err) });
    } finally {
      liveBusy = false;
      if (liveBatch.size > 0 && liveTimer === undefined) armLive(0);
    }
  }

  /** The container has every change of the pending batch: its rebuild waits for a longer quiet. */
  function hold(): void {
    if (holding || mustReplace || batch.size === 0 || liveBatch.size > 0 || quietTimer === undefined) return;
    if (![...batch].every((p) => synced.has(p))) return;
    holding = true;
    armQuiet(quietEnd(lastChangeMs) - now());
  }

  /** A change of the batch did not go live: the rebuild is due after the usual quiet period. */
  function unhold(): void {
    if (!holding) return;
    holding = false;
    if (quietTimer !== undefined) armQuiet(quietEnd(lastChangeMs) - now());
  }

  /**
   * After a good build, with live updates in the running container: whether the container holds
   * what the new image has at every path it was given (local files as the build saw them; a
   * deleted file must be gone). Paths that differ, or undefined when the check itself failed.
   */
  async function drift(id: string): Promise<string[] | undefined> {
    if (!live) return undefined;
    try {
      const paths = [...synced];
      const plan = await live.plan(paths);
      if (plan.kind !== 'sync') return undefined;
      const files = plan.changes.filter((c) => c.kind === 'file' || c.kind === 'delete');
      const inContainer = await live.syncer.hashes(
        id,
        files.map((c) => c.dest),
        life.signal,
      );
      const differ: string[] = [];
      for (const c of files) {
        const want = c.kind === 'file' ? await live.hashFile(c.source) : undefined;
        if (inContainer.get(c.dest) !== want) differ.push(c.dest);
      }
      return differ;
    } catch {
      return undefined;
    }
  }

  // ---- builds -------------------------------------------------------------------------------

  /** Starts the wanted build when nothing holds it back; otherwise says what it waits for. */
  function maybeBuild(): void {
    if (stopping) return;
    if (readyToBuild()) startBuild();
    else updatePending();
  }

  function readyToBuild(): boolean {
    if (wanted === undefined) return false;
    if (paused && wanted === 'change') return false;
    if (conn !== 'connected' || active) return false;
    if (wanted === 'change' && quietTimer !== undefined) return false;
    if (syncing || syncFailed) return false;
    if (needFull || dirty.size > 0) {
      // The quiet period is over: sync what is left now rather than after the debounce.
      spawn(runSync(false));
      return false;
    }
    return snapshotId !== '';
  }

  function startBuild(): void {
    const trigger: BuildTrigger = { reason: wanted ?? 'change', paths: [...batch] };
    wanted = undefined;
    batch = new Set();
    batchFirstMs = 0;
    holding = false;
    quietTimer = clear(quietTimer);
    lastPendingKey = '';
    seq++;
    const a: ActiveBuild = {
      seq,
      buildId: newBuildId(seq),
      trigger,
      ac: new AbortController(),
      phase: 'building',
      released: false,
    };
    active = a;
    emit({ type: 'build/started', timeMs: now(), buildId: a.buildId, trigger });
    spawn(runBuild(a, snapshotId));
  }

  /**
   * Lets go of a running build: aborts it (the builder cancels it in the engine) and records it
   * as cancelled. 'merge': its trigger joins the next batch; 'retry': it is wanted again as is.
   */
  function release(a: ActiveBuild, reason: string, then: 'merge' | 'retry' | 'drop'): void {
    if (a.released) return;
    a.released = true;
    a.ac.abort(new Error(reason));
    if (active === a) active = undefined;
    emit({ type: 'build/cancelled', timeMs: now(), buildId: a.buildId, reason });
    if (then === 'drop') return;
    batch = new Set([...a.trigger.paths, ...batch]);
    if (batchFirstMs === 0) batchFirstMs = now();
    if (then === 'retry') wanted ??= a.trigger.reason;
  }

  async function runBuild(a: ActiveBuild, snap: string): Promise<void> {
    const g = gen;
    let finished: Extract<BuildEvent, { type: 'build/finished' }> | undefined;
    let failure: unknown;
    let threw = false;
    try {
      for await (const event of builder.build(snap, a.buildId, a.ac.signal)) {
        if (a.released || stopping) break;
        emit({ type: 'build/progressed', timeMs: now(), buildId: a.buildId, event });
        if (event.type === 'build/finished') finished = event;
      }
    } catch (err) {
      threw = true;
      failure = err;
    }
    if (a.released || stopping) return;
    // A builder may report a dropped channel as a failed result (errorCode) rather than throw.
    const lost =
      threw && isConn(failure)
        ? failure
        : finished && !finished.ok && isConn({ code: finished.errorCode })
          ? Object.assign(new Error(finished.error), { code: finished.errorCode })
          : undefined;
    if (lost !== undefined) {
      release(a, `builder connection lost: ${message(lost)}`, 'retry');
      lostConnection(lost, g);
      maybeBuild();
      return;
    }
    const ok = finished?.ok === true && !threw;
    const imageId = finished?.imageId ?? '';
    const error = threw ? message(failure) : (finished?.error ?? 'the build stream ended without a result');
    emit({ type: 'build/finished', timeMs: now(), buildId: a.buildId, ok, imageId, error: ok ? '' : error });
    if (ok) await deliver(a, imageId, g);
    else keepContainer(`build ${a.seq} failed; the previous container keeps running`);
    if (active === a) active = undefined;
    maybeBuild();
  }

  /** Load into the local engine, then (with a runner) replace the container. */
  async function deliver(a: ActiveBuild, imageId: string, g: number): Promise<void> {
    a.phase = 'loading';
    emit({ type: 'load/started', timeMs: now(), buildId: a.buildId, imageId });
    try {
      const loading = createProgressThrottle(
        (r, timeMs) => {
          if (!a.released && !stopping)
            emit({
              type: 'load/progressed',
              timeMs,
              buildId: a.buildId,
              progress: {
                bytes: r.bytes,
                bytesTotal: r.bytesTotal,
                bytesPerSecond: r.bytesPerSecond,
                etaMs: r.etaMs,
                timeMs,
              },
            });
        },
        { intervalMs: progressIntervalMs, now },
      );
      const r = await builder.load(imageId, a.ac.signal, (counts) => loading.update(counts));
      if (a.released || stopping) return;
      emit({ type: 'load/finished', timeMs: now(), buildId: a.buildId, ...r });
    } catch (err) {
      if (a.released || stopping) return;
      emit({ type: 'load/failed', timeMs: now(), buildId: a.buildId, error: message(err) });
      keepContainer(`build ${a.seq} could not be loaded; the previous container keeps running`);
      if (isConn(err)) lostConnection(err, g);
      return;
    }
    if (!runner) return;
    if (live && containerId !== '' && !mustReplace && synced.size > 0) {
      // Newer changes are on their way (live and in a build to come): the container holds more
      // than this image; the next build is checked instead.
      if (batch.size > 0 || liveBatch.size > 0 || liveBusy) {
        emit({
          type: 'container/kept',
          timeMs: now(),
          reason: 'newer changes are on their way; the next build is checked',
        });
        return;
      }
      const differ = await drift(containerId);
      if (a.released || stopping) return;
      if (differ && differ.length === 0) {
        // The container was given every change this image holds: it keeps running, as the image.
        emit({ type: 'container/in-sync', timeMs: now(), imageId, checked: synced.size });
        synced.clear();
        return;
      }
      if (differ) emit({ type: 'container/drifted', timeMs: now(), paths: differ });
    }
    a.phase = 'starting';
    // Stop following the old container first: its exit during the replace is expected.
    followToken++;
    stopFollow?.();
    stopFollow = undefined;
    emit({ type: 'container/starting', timeMs: now(), imageId });
    try {
      const c = await runner.replace(imageId);
      if (stopping) return;
      containerId = c.id;
      synced.clear();
      mustReplace = false;
      startedAt = live ? await live.syncer.startedAt(c.id, life.signal).catch(() => '') : '';
      checked = live?.checkContainer?.(c.id, life.signal).catch(() => undefined) ?? Promise.resolve();
      emit({ type: 'container/started', timeMs: now(), id: c.id, name: c.name, imageId });
      follow(c.id);
    } catch (err) {
      if (stopping) return;
      containerId = '';
      emit({ type: 'container/failed', timeMs: now(), error: message(err) });
    }
  }

  function keepContainer(reason: string): void {
    if (runner && containerId !== '') emit({ type: 'container/kept', timeMs: now(), reason });
  }

  function follow(id: string): void {
    if (!runner) return;
    const token = ++followToken;
    const live = () => token === followToken && !stopping;
    try {
      stopFollow = runner.follow(
        id,
        (lines) => {
          if (live()) emit({ type: 'container/logged', timeMs: now(), lines });
        },
        (code) => {
          if (live()) emit({ type: 'container/exited', timeMs: now(), code });
        },
      );
    } catch (err) {
      emit({ type: 'container/failed', timeMs: now(), error: `cannot follow logs: ${message(err)}` });
    }
  }

  /** Tells the screen why changes have not turned into a build yet (deduplicated). */
  function updatePending(): void {
    if (stopping || (wanted === undefined && batch.size === 0)) return;
    const asked = wanted === 'initial' || wanted === 'manual';
    let waitingFor: string;
    if (paused && !asked) waitingFor = 'paused';
    else if (conn !== 'connected')
      waitingFor = attempt > 0 ? `builder reconnecting (attempt ${attempt})` : 'connecting to the builder';
    else if (active) waitingFor = `queued behind build ${active.seq}`;
    else if (quietTimer !== undefined && !asked) waitingFor = 'waiting for the quiet period';
    else if (syncFailed) waitingFor = `sync failed: ${syncFailed}`;
    else if (syncing || dirty.size > 0 || needFull) waitingFor = 'syncing';
    else waitingFor = 'starting';
    const trigger: BuildTrigger = { reason: wanted ?? 'change', paths: [...batch] };
    const key = `${waitingFor}\0${trigger.reason}\0${batch.size}`;
    if (key === lastPendingKey) return;
    lastPendingKey = key;
    emit({ type: 'build/pending', timeMs: now(), trigger, waitingFor });
  }

  // ---- commands -----------------------------------------------------------------------------

  function pause(): void {
    paused = true;
    quietTimer = clear(quietTimer);
    presyncTimer = clear(presyncTimer);
    emit({ type: 'watch/paused', timeMs: now() });
    updatePending();
  }

  function resume(): void {
    paused = false;
    emit({ type: 'watch/resumed', timeMs: now() });
    if (batch.size > 0 && wanted === undefined) {
      // What changed while paused gets a fresh quiet period.
      batchFirstMs = now();
      armQuiet(quietMs);
    }
    schedulePresync();
    maybeBuild();
  }

  function command(c: DevCommand): void {
    store.dispatch(c);
    if (stopping) return;
    switch (c.type) {
      case 'rebuild/requested':
        wanted = 'manual';
        syncFailed = '';
        quietTimer = clear(quietTimer);
        if (mode === 'cancel' && active?.phase === 'building') release(active, 'rebuild requested', 'merge');
        lastPendingKey = '';
        maybeBuild();
        return;
      case 'watch/toggled':
        if (paused) resume();
        else pause();
        return;
      case 'quit/requested':
        spawn(stop());
        return;
      default:
        return;
    }
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  async function start(): Promise<void> {
    if (started || stopping) return;
    started = true;
    spawn(connect());
    try {
      const r = await watcher.start({
        onChange: (paths) => onChange(paths),
        onError: (msg, polling) => {
          if (!stopping) emit({ type: 'watch/failed', timeMs: now(), message: msg, polling });
        },
        onIgnoreRules: (error) => {
          if (stopping) return;
          emit(
            error === ''
              ? { type: 'ignore/fixed', timeMs: now() }
              : { type: 'ignore/failed', timeMs: now(), error },
          );
        },
      });
      if (!stopping)
        emit({
          type: 'watch/started',
          timeMs: now(),
          polling: r.polling,
          message: r.message,
          ...(r.shared ? { shared: true } : {}),
        });
    } catch (err) {
      if (!stopping) emit({ type: 'watch/failed', timeMs: now(), message: message(err), polling: false });
    }
  }

  async function shutdown(): Promise<void> {
    stopping = true;
    if (!store.getState().quitting) store.dispatch({ type: 'quit/requested' });
    quietTimer = clear(quietTimer);
    presyncTimer = clear(presyncTimer);
    reconnectTimer = clear(reconnectTimer);
    pingTimer = clear(pingTimer);
    liveTimer = clear(liveTimer);
    const a = active;
    active = undefined;
    if (a && !a.released) {
      a.released = true;
      a.ac.abort(new Error('quit'));
      if (a.phase === 'building')
        emit({ type: 'build/cancelled', timeMs: now(), buildId: a.buildId, reason: 'quit' });
    }
    life.abort(new Error('quit'));
    syncAc?.abort(new Error('quit'));
    followToken++;
    try {
      stopFollow?.();
    } catch {
      // Following is best effort; the runner removes the container when it closes.
    }
    stopFollow = undefined;
    await settle(() => watcher.close());
    emit({ type: 'watch/closed', timeMs: now() });
    if (runner) await settle(() => runner.close());
    await settle(() => builder.close());
  }

  function stop(): Promise<void> {
    stopPromise ??= shutdown();
    return stopPromise;
  }

  return { start, command, stop };
}

async function settle(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch {
    // Closing is best effort: quitting must not fail because a peer is already gone.
  }
}

/** The container sync's answer for a container that is not running (stopped, paused, restarting). */
function isNotRunning(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'container_not_running';
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
