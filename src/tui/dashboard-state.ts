import type { Key } from 'ink';
import type { BuildSummaryWire, StatsResponseWire, StatsWindow } from '../session/client.js';

/** The dashboard's windows, in key order (`1`, `2`, `3`). */
export const DASHBOARD_WINDOWS: readonly StatsWindow[] = ['1h', '24h', '7d'];
/** The dashboard's views, in `tab` order. */
export const DASHBOARD_VIEWS = ['overview', 'projects', 'users', 'busters'] as const;
/** One screen of the dashboard. */
export type DashboardView = (typeof DASHBOARD_VIEWS)[number];
/** Finished builds kept under the running ones. */
export const MAX_RECENT_BUILDS = 5;

/** Everything the dashboard shows; changed only by `reduceDashboard`. */
export interface DashboardState {
  /** the builder (or the fleet), for the header */
  builderUrl: string;
  /** the builds come from a fleet: each build line names the builder that ran it */
  fleet: boolean;
  window: StatsWindow;
  view: DashboardView;
  /** Stats for `window` grouped by project; null until loaded (and after a window switch) */
  byProject: StatsResponseWire | null;
  /** Stats for `window` grouped by user; null until loaded */
  byUser: StatsResponseWire | null;
  /** builds in progress, oldest first: the last Stats answer updated by WatchBuilds */
  running: readonly BuildSummaryWire[];
  /** builds WatchBuilds saw finish, newest first */
  recent: readonly BuildSummaryWire[];
  /** a Stats call is in flight */
  loading: boolean;
  /** the last Stats failure, '' after a good answer */
  error: string;
  watch: 'connecting' | 'live' | 'lost';
  /** when the shown numbers were loaded; 0 before */
  updatedMs: number;
  /** latest event time: the view's clock */
  nowMs: number;
  quitting: boolean;
}

/** What a key asks for; the controller acts on it. */
export type DashboardCommand =
  | { type: 'window/selected'; window: StatsWindow }
  | { type: 'window/cycled' }
  | { type: 'view/cycled' }
  | { type: 'refresh/requested' }
  | { type: 'quit/requested' };

/** What happened while fetching and watching. */
export type DashboardEvent =
  | { type: 'stats/requested'; timeMs: number; window: StatsWindow }
  | {
      type: 'stats/loaded';
      timeMs: number;
      window: StatsWindow;
      groupBy: 'project' | 'user';
      response: StatsResponseWire;
    }
  | { type: 'stats/failed'; timeMs: number; window: StatsWindow; error: string }
  | { type: 'watch/connected'; timeMs: number }
  | { type: 'build/watched'; timeMs: number; summary: BuildSummaryWire }
  | { type: 'watch/lost'; timeMs: number; error: string };

/** The state before anything was loaded. */
export function initialDashboardState(
  builderUrl = '',
  window: StatsWindow = '24h',
  fleet = false,
): DashboardState {
  return {
    builderUrl,
    fleet,
    window,
    view: 'overview',
    byProject: null,
    byUser: null,
    running: [],
    recent: [],
    loading: false,
    error: '',
    watch: 'connecting',
    updatedMs: 0,
    nowMs: 0,
    quitting: false,
  };
}

const isFinished = (b: BuildSummaryWire) => b.result !== 'running' && b.result !== '';

/** Pure reducer of dashboard events and commands; never mutates its input. */
export function reduceDashboard(
  state: DashboardState,
  action: DashboardEvent | DashboardCommand,
): DashboardState {
  const s: DashboardState =
    'timeMs' in action && action.timeMs > state.nowMs ? { ...state, nowMs: action.timeMs } : { ...state };
  switch (action.type) {
    case 'window/selected':
      if (action.window === s.window) return s;
      // Numbers of another window would mislead while the new ones load.
      return { ...s, window: action.window, byProject: null, byUser: null, error: '' };
    case 'window/cycled': {
      const next = DASHBOARD_WINDOWS[(DASHBOARD_WINDOWS.indexOf(s.window) + 1) % DASHBOARD_WINDOWS.length];
      return reduceDashboard(s, { type: 'window/selected', window: next ?? '24h' });
    }
    case 'view/cycled':
      return { ...s, view: DASHBOARD_VIEWS[(DASHBOARD_VIEWS.indexOf(s.view) + 1) % DASHBOARD_VIEWS.length]! };
    case 'refresh/requested':
      return s;
    case 'quit/requested':
      return { ...s, quitting: true };
    case 'stats/requested':
      return action.window === s.window ? { ...s, loading: true } : s;
    case 'stats/loaded': {
      if (action.window !== s.window) return s;
      const finished = new Set(s.recent.map((b) => b.buildId));
      const next: DashboardState = {
        ...s,
        loading: false,
        error: '',
        updatedMs: action.timeMs,
        // WatchBuilds may already have seen a build finish that this answer still counts as running.
        running: action.response.running.filter((b) => !finished.has(b.buildId) && !isFinished(b)),
        // The window's latest finished builds (from the builder's history) merged with the ones
        // WatchBuilds reported since: a window with builds never reads "none recently".
        recent: mergeRecent(s.recent, action.response.recent ?? []),
      };
      return action.groupBy === 'project'
        ? { ...next, byProject: action.response }
        : { ...next, byUser: action.response };
    }
    case 'stats/failed':
      return action.window === s.window ? { ...s, loading: false, error: action.error } : s;
    case 'watch/connected':
      return { ...s, watch: 'live' };
    case 'watch/lost':
      return { ...s, watch: 'lost' };
    case 'build/watched': {
      const b = action.summary;
      const others = s.running.filter((r) => r.buildId !== b.buildId);
      if (!isFinished(b)) return { ...s, watch: 'live', running: [...others, b] };
      const recent = [b, ...s.recent.filter((r) => r.buildId !== b.buildId)].slice(0, MAX_RECENT_BUILDS);
      return { ...s, watch: 'live', running: others, recent };
    }
    default:
      return s;
  }
}

/**
 * The command a key stands for: `1`/`2`/`3` pick the window 1h/24h/7d, `w` cycles it, `tab`/`v`
 * cycle the view, `r` refreshes, `q` and Ctrl-C quit.
 */
export function dashboardCommandForKey(input: string, key: Partial<Key>): DashboardCommand | undefined {
  if (key.ctrl && input === 'c') return { type: 'quit/requested' };
  if (key.tab) return { type: 'view/cycled' };
  if (key.ctrl || key.meta) return undefined;
  switch (input) {
    case '1':
      return { type: 'window/selected', window: '1h' };
    case '2':
      return { type: 'window/selected', window: '24h' };
    case '3':
      return { type: 'window/selected', window: '7d' };
    case 'w':
      return { type: 'window/cycled' };
    case 'v':
      return { type: 'view/cycled' };
    case 'r':
      return { type: 'refresh/requested' };
    case 'q':
      return { type: 'quit/requested' };
    default:
      return undefined;
  }
}

/** Finished builds newest first, each once (the live report wins), at most MAX_RECENT_BUILDS. */
function mergeRecent(
  live: readonly BuildSummaryWire[],
  answered: readonly BuildSummaryWire[],
): BuildSummaryWire[] {
  const seen = new Set(live.map((b) => b.buildId));
  return [...live, ...answered.filter((b) => !seen.has(b.buildId) && isFinished(b))]
    .sort((a, b) => Number(b.finishedMs) - Number(a.finishedMs))
    .slice(0, MAX_RECENT_BUILDS);
}
