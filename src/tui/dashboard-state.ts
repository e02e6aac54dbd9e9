import type { Key } from 'ink';
import type { DevCommand } from '../dev/types.js';
import type { BuildState } from '../progress/index.js';
import type { BuildRecordWire, BuildSummaryWire, StatsResponseWire, StatsWindow } from '../session/client.js';
import { commandForKey } from './dev-keys.js';
import { applyReplayCommand, INITIAL_REPLAY_UI, type ReplayTitle, type ReplayUi } from './replay-layout.js';
import { rankBusters, sortedGroups } from './stats-format.js';

/** The dashboard's windows, in key order (`1`, `2`, `3`). */
export const DASHBOARD_WINDOWS: readonly StatsWindow[] = ['1h', '24h', '7d'];
/** The dashboard's views, in `tab` order. */
export const DASHBOARD_VIEWS = ['overview', 'projects', 'users', 'busters'] as const;
/** One screen of the dashboard. */
export type DashboardView = (typeof DASHBOARD_VIEWS)[number];
/** Finished builds kept under the running ones. */
export const MAX_RECENT_BUILDS = 5;
/** Builds the overview lists (running first, then recent): the ones `enter` can open. */
export const OVERVIEW_BUILDS = 4;
/** Builds a project's list asks for. */
export const DRILL_BUILDS = 30;

/** A project's recent builds, opened with `enter` on a project or a buster. */
export interface BuildsDrill {
  kind: 'builds';
  project: string;
  /** the buster's instruction, for the title ('' when opened from a project) */
  step: string;
  status: 'loading' | 'loaded' | 'failed';
  error: string;
  builds: readonly BuildRecordWire[];
  /** the selected build's id ('' for the first) */
  selected: string;
}

/** One build replayed from its trace, opened with `enter` on a build. */
export interface ReplayDrill {
  kind: 'replay';
  buildId: string;
  project: string;
  status: 'loading' | 'loaded' | 'failed';
  error: string;
  build: BuildState | null;
  title: ReplayTitle | null;
  notes: readonly string[];
  ui: ReplayUi;
  /** the list it was opened from, shown again on `esc` */
  back: BuildsDrill | null;
}

/** A screen opened over the dashboard. */
export type DashboardDrill = BuildsDrill | ReplayDrill;

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
  /** the selected item of the view (a build id, a project, a buster's `project\0step`); '' for the first */
  selected: string;
  /** the screen opened with `enter`, over the dashboard (which keeps refreshing underneath) */
  drill: DashboardDrill | null;
}

/** What a key asks for; the controller acts on it. */
export type DashboardCommand =
  | { type: 'window/selected'; window: StatsWindow }
  | { type: 'window/cycled' }
  | { type: 'view/cycled' }
  | { type: 'refresh/requested' }
  | { type: 'quit/requested' }
  | { type: 'selection/moved'; delta: number }
  | { type: 'selection/entered' }
  | { type: 'drill/closed' }
  | { type: 'replay/command'; command: DevCommand };

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
  | { type: 'watch/lost'; timeMs: number; error: string }
  | {
      type: 'builds/loaded';
      timeMs: number;
      project: string;
      step: string;
      builds: readonly BuildRecordWire[];
    }
  | { type: 'builds/failed'; timeMs: number; project: string; step: string; error: string }
  | {
      type: 'trace/loaded';
      timeMs: number;
      buildId: string;
      build: BuildState;
      title: ReplayTitle;
      notes: readonly string[];
    }
  | { type: 'trace/failed'; timeMs: number; buildId: string; error: string };

/** One selectable item of a view: what `enter` opens. */
export type DashboardItem =
  | { key: string; kind: 'build'; buildId: string; project: string }
  | { key: string; kind: 'project'; project: string; step: string };

/** The items ↑/↓ move through in the current view, in screen order (none in the users view). */
export function selectableItems(state: DashboardState): DashboardItem[] {
  const res = state.byProject ?? state.byUser;
  switch (state.view) {
    case 'overview':
      return overviewBuilds(state).map((b) => ({
        key: b.buildId,
        kind: 'build',
        buildId: b.buildId,
        project: b.project,
      }));
    case 'projects':
      return state.byProject
        ? sortedGroups(state.byProject).map((g) => ({
            key: g.key,
            kind: 'project',
            project: g.key,
            step: '',
          }))
        : [];
    case 'busters':
      return res
        ? rankBusters(res.busters).map((b) => ({
            key: `${b.project}\0${b.step}`,
            kind: 'project',
            project: b.project,
            step: b.step,
          }))
        : [];
    default:
      return [];
  }
}

/** The builds the overview lists: running ones first, then the latest finished. */
export function overviewBuilds(state: DashboardState): BuildSummaryWire[] {
  const shown = state.running.slice(0, OVERVIEW_BUILDS);
  return [...shown, ...state.recent.slice(0, Math.max(0, OVERVIEW_BUILDS - shown.length))];
}

/** The key of the selected item: the chosen one while it is listed, else the first ('' when none). */
export function selectedKey(items: readonly { key: string }[], selected: string): string {
  return items.some((i) => i.key === selected) ? selected : (items[0]?.key ?? '');
}

/** The selection moved by `delta` through `items`, by key (a list that changes keeps it). */
function moveSelection(items: readonly { key: string }[], selected: string, delta: number): string {
  if (items.length === 0) return selected;
  const at = items.findIndex((i) => i.key === selectedKey(items, selected));
  return items[Math.min(items.length - 1, Math.max(0, at + delta))]!.key;
}

const buildKeys = (d: BuildsDrill) => d.builds.map((r) => ({ key: r.summary?.buildId ?? '' }));

function reduceDrill(s: DashboardState, d: DashboardDrill, action: DashboardCommand): DashboardState {
  switch (action.type) {
    case 'drill/closed':
      return { ...s, drill: d.kind === 'replay' ? d.back : null };
    case 'selection/moved':
      return d.kind === 'builds'
        ? { ...s, drill: { ...d, selected: moveSelection(buildKeys(d), d.selected, action.delta) } }
        : s;
    case 'selection/entered': {
      if (d.kind !== 'builds') return s;
      const id = selectedKey(buildKeys(d), d.selected);
      if (!id) return s;
      return { ...s, drill: replayDrill(id, d.project, { ...d, selected: id }) };
    }
    case 'replay/command': {
      if (d.kind !== 'replay') return s;
      if (action.command.type === 'quit/requested') return { ...s, drill: d.back };
      if (!d.build) return s;
      const ui = applyReplayCommand(d.ui, action.command, d.build);
      return ui === 'quit' ? { ...s, drill: d.back } : { ...s, drill: { ...d, ui } };
    }
    case 'quit/requested':
      return { ...s, quitting: true };
    default:
      // Window and refresh keys are not sent while a drill is open; the numbers update underneath.
      return s;
  }
}

function replayDrill(buildId: string, project: string, back: BuildsDrill | null): ReplayDrill {
  return {
    kind: 'replay',
    buildId,
    project,
    status: 'loading',
    error: '',
    build: null,
    title: null,
    notes: [],
    ui: INITIAL_REPLAY_UI,
    back,
  };
}

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
    selected: '',
    drill: null,
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
  if (s.drill && isCommand(action)) return reduceDrill(s, s.drill, action);
  switch (action.type) {
    case 'selection/moved':
      return { ...s, selected: moveSelection(selectableItems(s), s.selected, action.delta) };
    case 'selection/entered': {
      const key = selectedKey(selectableItems(s), s.selected);
      const item = selectableItems(s).find((i) => i.key === key);
      if (!item) return s;
      const drill: DashboardDrill =
        item.kind === 'build'
          ? replayDrill(item.buildId, item.project, null)
          : {
              kind: 'builds',
              project: item.project,
              step: item.step,
              status: 'loading',
              error: '',
              builds: [],
              selected: '',
            };
      // The overview's selection follows the build by id, not its row.
      return { ...s, selected: key, drill };
    }
    case 'drill/closed':
    case 'replay/command':
      return s;
    case 'builds/loaded':
    case 'builds/failed': {
      const d = s.drill;
      if (d?.kind !== 'builds' || d.project !== action.project || d.step !== action.step) return s;
      return action.type === 'builds/loaded'
        ? { ...s, drill: { ...d, status: 'loaded', error: '', builds: action.builds } }
        : { ...s, drill: { ...d, status: 'failed', error: action.error } };
    }
    case 'trace/loaded':
    case 'trace/failed': {
      const d = s.drill;
      if (d?.kind !== 'replay' || d.buildId !== action.buildId) return s;
      return action.type === 'trace/loaded'
        ? {
            ...s,
            drill: {
              ...d,
              status: 'loaded',
              error: '',
              build: action.build,
              title: action.title,
              notes: action.notes,
            },
          }
        : { ...s, drill: { ...d, status: 'failed', error: action.error } };
    }
    case 'window/selected':
      if (action.window === s.window) return s;
      // Numbers of another window would mislead while the new ones load.
      return { ...s, window: action.window, byProject: null, byUser: null, error: '' };
    case 'window/cycled': {
      const next = DASHBOARD_WINDOWS[(DASHBOARD_WINDOWS.indexOf(s.window) + 1) % DASHBOARD_WINDOWS.length];
      return reduceDashboard(s, { type: 'window/selected', window: next ?? '24h' });
    }
    case 'view/cycled':
      return {
        ...s,
        view: DASHBOARD_VIEWS[(DASHBOARD_VIEWS.indexOf(s.view) + 1) % DASHBOARD_VIEWS.length]!,
        selected: '',
      };
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

const COMMANDS = new Set<string>([
  'window/selected',
  'window/cycled',
  'view/cycled',
  'refresh/requested',
  'quit/requested',
  'selection/moved',
  'selection/entered',
  'drill/closed',
  'replay/command',
]);
const isCommand = (a: DashboardEvent | DashboardCommand): a is DashboardCommand => COMMANDS.has(a.type);

/**
 * The command a key stands for: `1`/`2`/`3` pick the window 1h/24h/7d, `w` cycles it, `tab`/`v`
 * cycle the view, `r` refreshes, ↑/↓ (k/j) select, `enter` opens the selection, `q` and Ctrl-C
 * quit. With a drill open (`drill`): in a build list ↑/↓ and `enter` again, `esc` or `q` back; in
 * a replay the keys of `depot history show` (dev-keys.ts), `esc` (with no details open) or `q` back.
 */
export function dashboardCommandForKey(
  input: string,
  key: Partial<Key>,
  drill: DashboardDrill | null = null,
): DashboardCommand | undefined {
  if (key.ctrl && input === 'c') return { type: 'quit/requested' };
  if (drill?.kind === 'replay') {
    const details = drill.ui.details;
    if (key.escape && !details) return { type: 'drill/closed' };
    const command = commandForKey(input, key, { showHelp: false, showLogs: details });
    return command ? { type: 'replay/command', command } : undefined;
  }
  if (key.upArrow) return { type: 'selection/moved', delta: -1 };
  if (key.downArrow) return { type: 'selection/moved', delta: 1 };
  if (key.return) return { type: 'selection/entered' };
  if (drill) {
    if (key.escape || input === 'q') return { type: 'drill/closed' };
    if (input === 'k') return { type: 'selection/moved', delta: -1 };
    if (input === 'j') return { type: 'selection/moved', delta: 1 };
    return undefined;
  }
  if (key.tab) return { type: 'view/cycled' };
  if (key.ctrl || key.meta) return undefined;
  switch (input) {
    case 'k':
      return { type: 'selection/moved', delta: -1 };
    case 'j':
      return { type: 'selection/moved', delta: 1 };
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
