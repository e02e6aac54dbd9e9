import { initialBuildState, reduceBuild } from '../progress/index.js';
import type {
  BuildSummaryWire,
  BuildTraceChunkWire,
  ListBuildsQuery,
  ListBuildsWire,
  StatsQuery,
  StatsResponseWire,
  StatsWindow,
} from '../session/client.js';
import { openReplay } from '../session/replay.js';
import type { DashboardStore } from './Dashboard.js';
import {
  type DashboardCommand,
  type DashboardDrill,
  type DashboardEvent,
  type DashboardState,
  DRILL_BUILDS,
  initialDashboardState,
  reduceDashboard,
} from './dashboard-state.js';

/** Where the dashboard's numbers come from: a BuilderSession, a fleet, or a fake in tests. */
export interface StatsSource {
  stats(query: StatsQuery, signal?: AbortSignal): Promise<StatsResponseWire>;
  watchBuilds(signal: AbortSignal): AsyncIterable<BuildSummaryWire>;
  /** A project's recorded builds, newest first (`enter` on a project or a buster). */
  listBuilds?(query: ListBuildsQuery, signal?: AbortSignal): Promise<ListBuildsWire>;
  /** One build's record and trace, of `project` (`enter` on a build). */
  buildTrace?(buildId: string, signal?: AbortSignal, project?: string): AsyncIterable<BuildTraceChunkWire>;
}

/** Timers the controller uses, injectable for tests. */
export interface DashboardTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Options of createDashboardController. */
export interface DashboardControllerOptions {
  source: StatsSource;
  builderUrl?: string;
  /** The builds come from a fleet: each build line names its builder. */
  fleet?: boolean;
  window?: StatsWindow;
  /** Stats is asked again this often (default 5 s); a lost WatchBuilds stream is reopened too */
  intervalMs?: number;
  now?: () => number;
  timers?: DashboardTimers;
}

/** The dashboard's store and the loop that feeds it. */
export interface DashboardController extends DashboardStore {
  /** Fetches Stats, opens WatchBuilds and starts the refresh timer. */
  start(): void;
  /** Resolves when a quit was requested. */
  readonly quit: Promise<void>;
  /** Stops the timer and cancels every call; idempotent. */
  close(): void;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Keeps a DashboardState: Stats for the current window grouped by project and by user, every
 * `intervalMs`, on `r`, on a window switch and whenever WatchBuilds reports a finished build;
 * WatchBuilds also updates the running builds live. Answers for a window no longer shown are
 * dropped, failures become state (shown in the header), never exceptions.
 */
export function createDashboardController(opts: DashboardControllerOptions): DashboardController {
  const now = opts.now ?? Date.now;
  const timers: DashboardTimers = opts.timers ?? {
    setInterval: (fn, ms) => {
      const t = setInterval(fn, ms);
      t.unref();
      return t;
    },
    clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
  };
  let state: DashboardState = initialDashboardState(opts.builderUrl ?? '', opts.window ?? '24h', opts.fleet);
  const listeners = new Set<() => void>();
  const life = new AbortController();
  let fetches: AbortController | undefined;
  let watching = false;
  let interval: unknown;
  let closed = false;
  let resolveQuit: () => void = () => {};
  const quit = new Promise<void>((resolve) => {
    resolveQuit = resolve;
  });

  const apply = (action: DashboardEvent | DashboardCommand) => {
    const next = reduceDashboard(state, action);
    if (next === state) return;
    state = next;
    for (const l of [...listeners]) l();
  };

  function refresh(): void {
    if (closed) return;
    // A newer question replaces an older one still in flight.
    fetches?.abort();
    const ac = new AbortController();
    fetches = ac;
    const window = state.window;
    apply({ type: 'stats/requested', timeMs: now(), window });
    for (const groupBy of ['project', 'user'] as const) {
      opts.source.stats({ window, groupBy }, ac.signal).then(
        (response) => {
          if (!ac.signal.aborted) apply({ type: 'stats/loaded', timeMs: now(), window, groupBy, response });
        },
        (err) => {
          if (!ac.signal.aborted)
            apply({ type: 'stats/failed', timeMs: now(), window, error: errorText(err) });
        },
      );
    }
  }

  let drillCall: AbortController | undefined;
  /** Loads what a drill just opened shows; its answer (or failure) becomes state. */
  function load(d: DashboardDrill): void {
    drillCall?.abort();
    const ac = new AbortController();
    drillCall = ac;
    const signal = AbortSignal.any([ac.signal, life.signal]);
    const fail = (err: unknown) => {
      if (signal.aborted) return;
      apply(
        d.kind === 'builds'
          ? { type: 'builds/failed', timeMs: now(), project: d.project, step: d.step, error: errorText(err) }
          : { type: 'trace/failed', timeMs: now(), buildId: d.buildId, error: errorText(err) },
      );
    };
    if (d.kind === 'builds') {
      if (!opts.source.listBuilds) {
        fail(new Error('this builder lists no recorded builds'));
        return;
      }
      opts.source
        .listBuilds({ limit: DRILL_BUILDS, project: d.project, missedStep: d.step || undefined }, signal)
        .then((res) => {
          if (!signal.aborted)
            apply({
              type: 'builds/loaded',
              timeMs: now(),
              project: d.project,
              step: d.step,
              builds: res.builds,
            });
        }, fail);
      return;
    }
    const trace = opts.source.buildTrace;
    if (!trace) {
      fail(new Error('this builder keeps no build traces'));
      return;
    }
    (async () => {
      const replay = await openReplay(trace(d.buildId, signal, d.project || undefined));
      let build = initialBuildState();
      for await (const e of replay.events) build = reduceBuild(build, e);
      if (signal.aborted) return;
      const s = replay.header.record?.summary;
      apply({
        type: 'trace/loaded',
        timeMs: now(),
        buildId: d.buildId,
        build,
        notes: replay.notes,
        title: {
          buildId: s?.buildId ?? build.buildId,
          result: s?.result ?? '',
          platform: s?.platform ?? build.platform,
          target: replay.header.record?.target ?? '',
          builder: s?.builder ?? build.builderId,
          startedMs: Number(s?.startedMs ?? build.startedMs),
          finishedMs: Number(s?.finishedMs ?? build.finishedMs),
        },
      });
    })().catch(fail);
  }

  async function watch(): Promise<void> {
    if (watching || closed) return;
    watching = true;
    try {
      const stream = opts.source.watchBuilds(life.signal);
      apply({ type: 'watch/connected', timeMs: now() });
      for await (const summary of stream) {
        if (closed) break;
        apply({ type: 'build/watched', timeMs: now(), summary });
        // A finished build changes every number: ask again rather than guess.
        if (summary.result !== 'running' && summary.result !== '') refresh();
      }
      if (!closed) apply({ type: 'watch/lost', timeMs: now(), error: 'the builder ended the stream' });
    } catch (err) {
      if (!closed) apply({ type: 'watch/lost', timeMs: now(), error: errorText(err) });
    } finally {
      watching = false;
    }
  }

  return {
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispatch(command) {
      if (closed) return;
      const before = state.window;
      const drill = state.drill;
      apply(command);
      if (state.drill !== drill && state.drill?.status === 'loading') load(state.drill);
      else if (!state.drill) drillCall?.abort();
      if (state.quitting) resolveQuit();
      else if (command.type === 'refresh/requested' || state.window !== before) refresh();
    },
    start() {
      if (closed || interval !== undefined) return;
      refresh();
      void watch();
      interval = timers.setInterval(() => {
        refresh();
        if (state.watch === 'lost') void watch();
      }, opts.intervalMs ?? 5000);
    },
    quit,
    close() {
      if (closed) return;
      closed = true;
      if (interval !== undefined) timers.clearInterval(interval);
      fetches?.abort();
      drillCall?.abort();
      life.abort();
      resolveQuit();
    },
  };
}
