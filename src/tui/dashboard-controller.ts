import type { BuildSummaryWire, StatsQuery, StatsResponseWire, StatsWindow } from '../session/client.js';
import type { DashboardStore } from './Dashboard.js';
import {
  type DashboardCommand,
  type DashboardEvent,
  type DashboardState,
  initialDashboardState,
  reduceDashboard,
} from './dashboard-state.js';

/** Where the dashboard's numbers come from: a BuilderSession, or a fake in tests. */
export interface StatsSource {
  stats(query: StatsQuery, signal?: AbortSignal): Promise<StatsResponseWire>;
  watchBuilds(signal: AbortSignal): AsyncIterable<BuildSummaryWire>;
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
      apply(command);
      if (command.type === 'quit/requested') resolveQuit();
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
      life.abort();
      resolveQuit();
    },
  };
}
