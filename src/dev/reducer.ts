/**
 * The pure reducer of the dev loop: DevEvents (facts) and DevCommands (intents) → DevState.
 * No I/O, no timers; controllers in loop.ts do those and dispatch what happened.
 */
import { stagePlan } from '../dockerfile/index.js';
import {
  type BuildEvent,
  buildLanes,
  graphOrder,
  initialBuildState,
  reduceBuild,
  summarize,
} from '../progress/index.js';
import { pathsUnderSources } from './sources.js';
import type {
  BuildRecord,
  ContainerState,
  CurrentBuild,
  DevCommand,
  DevEvent,
  DevState,
  SessionStatus,
} from './types.js';

export { copySources, pathsUnderSources } from './sources.js';

/** Finished builds kept in `history`. */
export const MAX_HISTORY = 50;
/** Container log lines kept in state. */
export const MAX_CONTAINER_LOG_LINES = 200;

/** The state before anything happened: connecting to `url`, watcher starting, no build. */
export function initialDevState(
  contextDir: string,
  url: string,
  size: { width: number; height: number },
): DevState {
  return {
    contextDir,
    session: { kind: 'connecting', url },
    watch: { status: 'starting', message: '', pendingPaths: [], quietUntilMs: 0 },
    snapshot: {
      id: '',
      ackedMs: 0,
      entries: 0,
      lastBytesSent: 0,
      syncing: false,
      bytesSinceBuild: 0,
      error: '',
    },
    current: undefined,
    pending: undefined,
    history: [],
    container: undefined,
    ui: {
      selectedStep: -1,
      showLogs: false,
      showHelp: false,
      showInternal: false,
      showWaterfall: false,
      width: size.width,
      height: size.height,
    },
    nowMs: 0,
    quitting: false,
  };
}

/** Pure: the next state after one event or command; never mutates `state`. */
export function reduceDev(state: DevState, action: DevEvent | DevCommand): DevState {
  const s: DevState =
    'timeMs' in action && action.timeMs > state.nowMs ? { ...state, nowMs: action.timeMs } : state;
  switch (action.type) {
    // Commands: only the UI ones change state here; the loop acts on the others.
    case 'rebuild/requested':
    case 'watch/toggled':
      return s;
    case 'quit/requested':
      return s.quitting ? s : { ...s, quitting: true };
    case 'step/moved': {
      const order = selectable(s);
      const count = order.length;
      if (count === 0) return s.ui.selectedStep === -1 ? s : { ...s, ui: { ...s.ui, selectedStep: -1 } };
      const at = order.indexOf(s.ui.selectedStep);
      const from = at < 0 ? (action.delta > 0 ? -1 : count) : at;
      const selectedStep = order[Math.min(count - 1, Math.max(0, from + action.delta))] ?? -1;
      return { ...s, ui: { ...s.ui, selectedStep } };
    }
    case 'internal/toggled': {
      const ui = { ...s.ui, showInternal: !s.ui.showInternal };
      // A step folded away is no longer selected.
      const next = { ...s, ui };
      return selectable(next).includes(ui.selectedStep) ? next : { ...next, ui: { ...ui, selectedStep: -1 } };
    }
    case 'logs/toggled':
      return { ...s, ui: { ...s.ui, showLogs: !s.ui.showLogs } };
    case 'waterfall/toggled':
      return { ...s, ui: { ...s.ui, showWaterfall: !s.ui.showWaterfall } };
    case 'help/toggled':
      return { ...s, ui: { ...s.ui, showHelp: !s.ui.showHelp } };
    case 'ui/resized':
      return { ...s, ui: { ...s.ui, width: action.width, height: action.height } };

    case 'session/connecting':
      return { ...s, session: { kind: 'connecting', url: action.url } };
    case 'session/connected':
      return {
        ...s,
        session: {
          kind: 'connected',
          url: action.url,
          builderId: action.builderId,
          platform: action.platform,
          latencyMs: action.latencyMs,
          sinceMs: action.timeMs,
        },
      };
    case 'session/latency':
      return s.session.kind === 'connected'
        ? { ...s, session: { ...s.session, latencyMs: action.latencyMs } }
        : s;
    case 'session/reconnecting': {
      const session: SessionStatus = {
        kind: 'reconnecting',
        url: s.session.url,
        attempt: action.attempt,
        retryAtMs: action.retryAtMs,
        lastError: action.error,
      };
      return { ...s, session };
    }

    case 'watch/started':
      return {
        ...s,
        watch: {
          ...s.watch,
          status: action.polling ? 'polling' : 'watching',
          message: action.message,
          ...(action.shared ? { shared: true } : {}),
        },
      };
    case 'agent/unavailable':
      return { ...s, watch: { ...s.watch, shared: false, agentUnavailable: action.reason } };
    case 'watch/changed':
      return {
        ...s,
        watch: {
          ...s.watch,
          pendingPaths: union(s.watch.pendingPaths, action.paths),
          quietUntilMs: action.quietUntilMs,
        },
      };
    case 'watch/failed':
      return {
        ...s,
        watch: { ...s.watch, status: action.polling ? 'polling' : 'error', message: action.message },
      };
    case 'watch/paused':
      return { ...s, watch: { ...s.watch, status: 'paused', quietUntilMs: 0 } };
    case 'watch/resumed':
      return { ...s, watch: { ...s.watch, status: 'watching' } };
    case 'watch/closed':
      return { ...s, watch: { ...s.watch, status: 'closed', quietUntilMs: 0 } };
    case 'ignore/failed':
      return { ...s, watch: { ...s.watch, ignoreError: action.error } };
    case 'ignore/fixed':
      return { ...s, watch: { ...s.watch, ignoreError: '' } };

    case 'sync/started': {
      const synced = new Set(action.paths);
      return {
        ...s,
        watch: {
          ...s.watch,
          pendingPaths: action.full ? [] : s.watch.pendingPaths.filter((p) => !synced.has(p)),
        },
        snapshot: { ...s.snapshot, syncing: true, progress: undefined },
      };
    }
    case 'sync/progressed':
      if (!s.snapshot.syncing) return s;
      return { ...s, snapshot: { ...s.snapshot, progress: action.progress } };
    case 'sync/acked':
      return {
        ...s,
        snapshot: {
          ...s.snapshot,
          id: action.snapshotId,
          ackedMs: action.timeMs,
          entries: action.entries,
          lastBytesSent: action.bytesSent,
          syncing: false,
          bytesSinceBuild: (s.snapshot.bytesSinceBuild ?? 0) + action.bytesSent,
          error: '',
          progress: undefined,
        },
      };
    case 'sync/failed':
      return { ...s, snapshot: { ...s.snapshot, syncing: false, error: action.error, progress: undefined } };

    case 'build/pending':
      return { ...s, pending: { trigger: action.trigger, waitingFor: action.waitingFor } };
    case 'build/started': {
      const seq = (s.current?.record.seq ?? s.history[s.history.length - 1]?.seq ?? 0) + 1;
      const record: BuildRecord = {
        seq,
        buildId: action.buildId,
        trigger: action.trigger,
        startedMs: action.timeMs,
        finishedMs: 0,
        outcome: 'running',
        stepsTotal: 0,
        stepsCached: 0,
        bytesSynced: s.snapshot.bytesSinceBuild ?? 0,
        bytesLoaded: 0,
        imageId: '',
        error: '',
      };
      return {
        ...s,
        current: { record, phase: 'building', build: initialBuildState(), rebuiltBecause: {} },
        pending: undefined,
        watch: { ...s.watch, quietUntilMs: 0 },
        snapshot: { ...s.snapshot, bytesSinceBuild: 0 },
        ui: { ...s.ui, selectedStep: -1 },
      };
    }
    case 'build/progressed': {
      const cur = s.current;
      if (!cur || cur.record.buildId !== action.buildId || cur.record.outcome !== 'running') return s;
      return { ...s, current: progress(cur, action.event) };
    }
    case 'build/cancelled':
      return finishRecord(s, action.buildId, action.timeMs, {
        outcome: 'cancelled',
        error: action.reason,
      });
    case 'build/finished':
      return finishRecord(s, action.buildId, action.timeMs, {
        outcome: action.ok ? 'ok' : 'failed',
        imageId: action.imageId,
        error: action.error,
      });
    case 'load/started':
      return withPhase(s, action.buildId, 'loading');
    case 'load/progressed': {
      const cur = s.current;
      if (!cur || cur.record.buildId !== action.buildId || cur.phase !== 'loading') return s;
      return { ...s, current: { ...cur, loadProgress: action.progress } };
    }
    case 'load/finished': {
      const loaded = withPhase(s, action.buildId, 'done');
      const cur = loaded.current;
      const event: BuildEvent = {
        type: 'load/finished',
        timeMs: action.timeMs,
        bytes: action.bytes,
        imageSize: action.imageSize,
        layersSent: 0,
        layersTotal: 0,
        note: '',
        tags: [],
      };
      return {
        ...loaded,
        current:
          cur && cur.record.buildId === action.buildId
            ? {
                ...cur,
                build: reduceBuild(cur.build, event),
                record: { ...cur.record, bytesLoaded: action.bytes },
              }
            : cur,
        history: loaded.history.map((r) =>
          r.buildId === action.buildId ? { ...r, bytesLoaded: action.bytes } : r,
        ),
      };
    }
    case 'load/failed': {
      const failed = withPhase(s, action.buildId, 'done');
      return {
        ...failed,
        container: failed.container
          ? { ...failed.container, message: `load failed: ${action.error}` }
          : failed.container,
      };
    }

    case 'container/starting': {
      // The new container has no name or id yet: the old one is named only as the one replaced.
      const old = s.container;
      // Why the container is replaced stays on screen when it is drift (it would flash by).
      const drift = old?.sync?.startsWith('drift at ') ? old.sync.replace(/: replacing$/, '') : '';
      const container: ContainerState = {
        ...emptyContainer(),
        status: 'starting',
        imageId: action.imageId,
        logs: old?.logs ?? [],
        replacing:
          old && old.status !== 'failed' && old.status !== 'none' ? old.name || shortIdOf(old.id) : '',
        ...(drift ? { sync: `${drift}: replacing with the new image` } : {}),
      };
      const cur = s.current;
      return {
        ...s,
        container,
        current: cur && cur.record.outcome === 'ok' ? { ...cur, phase: 'starting' } : cur,
      };
    }
    case 'container/started':
      return {
        ...s,
        container: {
          status: 'running',
          id: action.id,
          name: action.name,
          imageId: action.imageId,
          logs: [],
          message: '',
          ...(s.container?.sync?.startsWith('drift at ')
            ? {
                sync: s.container.sync.replace(
                  /: replacing with the new image$/,
                  ': replaced by the new image',
                ),
              }
            : {}),
        },
        current: s.current ? { ...s.current, phase: 'done' } : s.current,
      };
    case 'container/kept':
      return s.container
        ? { ...s, container: { ...s.container, status: 'kept', message: action.reason } }
        : s;
    case 'container/logged': {
      if (!s.container) return s;
      const logs = [...s.container.logs, ...action.lines].slice(-MAX_CONTAINER_LOG_LINES);
      return { ...s, container: { ...s.container, logs } };
    }
    case 'container/exited':
      return s.container
        ? {
            ...s,
            container: { ...s.container, status: 'exited', message: `exited with code ${action.code}` },
          }
        : s;
    case 'container/failed':
      return {
        ...s,
        container: { ...(s.container ?? emptyContainer()), status: 'failed', message: action.error },
        current: s.current ? { ...s.current, phase: 'done' } : s.current,
      };
    case 'sync/rules':
      return { ...s, syncRules: [...action.rules] };
    case 'container/synced': {
      if (!s.container) return s;
      const n = action.files + action.deleted;
      const what = `${n} file${n === 1 ? '' : 's'}`;
      const then = action.exec
        ? action.exec.exitCode === 0
          ? ` · ran ${action.exec.command}`
          : ` · ${action.exec.command} exited with ${action.exec.exitCode}`
        : action.restarted
          ? ' · restarted'
          : '';
      // It took the files: it runs (again, when it had exited and was started by hand).
      return {
        ...s,
        container: {
          ...s.container,
          status: 'running',
          message: '',
          sync: `synced ${what} in ${action.ms} ms${then}`,
        },
      };
    }
    case 'container/sync-skipped':
      return s.container ? { ...s, container: { ...s.container, sync: `rebuilding: ${action.reason}` } } : s;
    case 'container/sync-failed':
      return s.container
        ? { ...s, container: { ...s.container, sync: `sync failed, rebuilding: ${action.error}` } }
        : s;
    case 'container/sync-waiting':
      return s.container
        ? {
            ...s,
            container: {
              ...s.container,
              sync: `not running: ${action.paths} change${action.paths === 1 ? '' : 's'} wait for it`,
            },
          }
        : s;
    case 'container/in-sync':
      return s.container
        ? {
            ...s,
            container: {
              ...s.container,
              status: 'running',
              imageId: action.imageId,
              message: '',
              sync: `image loaded; the container already has its ${action.checked} synced path${action.checked === 1 ? '' : 's'}`,
            },
            current: s.current ? { ...s.current, phase: 'done' } : s.current,
          }
        : s;
    case 'container/drifted':
      return s.container
        ? {
            ...s,
            container: {
              ...s.container,
              sync: `drift at ${action.paths.length} path${action.paths.length === 1 ? '' : 's'} (${action.paths[0] ?? ''}…): replacing`,
            },
          }
        : s;
    default:
      return s;
  }
}

function shortIdOf(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function emptyContainer(): ContainerState {
  return { status: 'none', name: '', id: '', imageId: '', logs: [], message: '' };
}

function union(a: string[], b: string[]): string[] {
  const seen = new Set(a);
  const out = a.slice();
  for (const p of b) {
    if (seen.has(p)) continue;
    seen.add(p);
    out.push(p);
  }
  return out;
}

/** Feeds one BuildEvent to the current build and keeps `rebuiltBecause` in step with its vertices. */
function progress(cur: CurrentBuild, event: BuildEvent): CurrentBuild {
  const build = reduceBuild(cur.build, event);
  if (event.type !== 'vertex/updated') return { ...cur, build };
  const { digest, name, cached } = event.vertex;
  const stepName = name || cur.build.steps[cur.build.stepIndex[digest] ?? -1]?.name || '';
  const because = cached ? [] : pathsUnderSources(stepName, cur.record.trigger.paths);
  const had = cur.rebuiltBecause[digest];
  if (because.length === 0 && had === undefined) return { ...cur, build };
  const rebuiltBecause = { ...cur.rebuiltBecause };
  if (because.length === 0) delete rebuiltBecause[digest];
  else rebuiltBecause[digest] = because;
  return { ...cur, build, rebuiltBecause };
}

function withPhase(s: DevState, buildId: string, phase: CurrentBuild['phase']): DevState {
  const cur = s.current;
  if (!cur || cur.record.buildId !== buildId || cur.phase === phase) return s;
  // Load progress belongs to the loading phase only.
  return { ...s, current: { ...cur, phase, loadProgress: undefined } };
}

/** Ends the current build's record (once) and appends it to the bounded history. */
function finishRecord(
  s: DevState,
  buildId: string,
  timeMs: number,
  patch: Pick<BuildRecord, 'outcome' | 'error'> & { imageId?: string },
): DevState {
  const cur = s.current;
  if (!cur || cur.record.buildId !== buildId || cur.record.outcome !== 'running') return s;
  const summary = summarize(cur.build);
  const record: BuildRecord = {
    ...cur.record,
    ...patch,
    imageId: patch.imageId ?? cur.record.imageId,
    finishedMs: timeMs,
    stepsTotal: summary.steps,
    stepsCached: summary.cached,
    bytesSynced: Math.max(cur.record.bytesSynced, summary.bytesSynced),
  };
  const phase = patch.outcome === 'ok' ? cur.phase : 'done';
  return {
    ...s,
    current: { ...cur, record, phase },
    history: [...s.history, record].slice(-MAX_HISTORY),
  };
}

/** Positions in the current build's steps that the selection moves through, in the graph's order. */
function selectable(s: DevState): number[] {
  const build = s.current?.build;
  if (!build) return [];
  const plan = build.definition ? stagePlan(build.definition.dockerfile) : undefined;
  return graphOrder(buildLanes(build, plan), s.ui.showInternal).map(
    (step) => build.stepIndex[step.digest] ?? -1,
  );
}
