/**
 * State and events of the `depot dev` loop. One store holds DevState; controllers do I/O and
 * dispatch DevEvents (past-tense facts) ; keys and timers dispatch DevCommands (intents).
 * Renderers (Ink, plain) are subscribers and pure functions of DevState.
 */
import type { BuildEvent, BuildState, LoadProgress, SyncProgress } from '../progress/index.js';

/** Connection to the builder, as the header shows it. */
export type SessionStatus =
  | { kind: 'connecting'; url: string }
  | {
      kind: 'connected';
      url: string;
      builderId: string;
      /** e.g. linux/amd64 */
      platform: string;
      latencyMs: number;
      sinceMs: number;
    }
  | { kind: 'reconnecting'; url: string; attempt: number; retryAtMs: number; lastError: string };

export type WatchStatus = 'starting' | 'watching' | 'paused' | 'polling' | 'error' | 'closed';

export interface WatchState {
  status: WatchStatus;
  /** Why the watcher is in this state (e.g. the inotify limit and the polling fallback). */
  message: string;
  /** Paths changed since the last coalesced batch was pre-synced (relative, '/'-separated). */
  pendingPaths: string[];
  /** When the quiet period of the pending batch ends (ms since epoch), 0 when none. */
  quietUntilMs: number;
  /** Why the ignore file cannot be used (its last good rules stay in force); '' or absent when valid. */
  ignoreError?: string;
  /** The local agent's watcher (shared with other sessions and builds) feeds this session. */
  shared?: boolean;
  /** Why the session watches and syncs in process although the agent was wanted; absent otherwise. */
  agentUnavailable?: string;
}

export interface SnapshotState {
  /** Last snapshot the builder acknowledged, '' before the first sync. */
  id: string;
  ackedMs: number;
  entries: number;
  /** Blob bytes uploaded by the last sync. */
  lastBytesSent: number;
  syncing: boolean;
  /** Blob bytes uploaded by every sync since the last build started (the next build's "synced"). */
  bytesSinceBuild?: number;
  /** Why the last sync failed, '' after a good one. */
  error?: string;
  /** How far the running sync is (hashing, then uploading); absent when none was reported. */
  progress?: SyncProgress;
}

export type TriggerReason = 'initial' | 'change' | 'manual';

export interface BuildTrigger {
  reason: TriggerReason;
  /** Changed paths that caused the build (capped for display by renderers). */
  paths: string[];
}

export type BuildOutcome = 'running' | 'ok' | 'failed' | 'cancelled';

/** One build of the session, for the scrollback. */
export interface BuildRecord {
  /** 1, 2, 3 … within the session */
  seq: number;
  buildId: string;
  trigger: BuildTrigger;
  startedMs: number;
  finishedMs: number;
  outcome: BuildOutcome;
  stepsTotal: number;
  stepsCached: number;
  bytesSynced: number;
  bytesLoaded: number;
  imageId: string;
  error: string;
}

/** What the current build is doing after its graph: loading the image, starting the container. */
export type BuildPhase = 'building' | 'loading' | 'starting' | 'done';

export interface CurrentBuild {
  record: BuildRecord;
  /** Absent means 'building'. */
  phase?: BuildPhase;
  /** The live layer graph of this build (reduced from its BuildEvents). */
  build: BuildState;
  /** Step digest → changed paths under that step's COPY/ADD sources (why it rebuilt). */
  rebuiltBecause: Record<string, string[]>;
  /** How far the load into the local engine is, while loading. */
  loadProgress?: LoadProgress;
}

/** Why no build is running although changes are pending, or that one is queued. */
export interface PendingBuild {
  trigger: BuildTrigger;
  /** e.g. "waiting for the quiet period", "queued behind build 3", "builder reconnecting" */
  waitingFor: string;
}

export type ContainerStatus = 'none' | 'starting' | 'running' | 'exited' | 'kept' | 'failed';

export interface ContainerState {
  status: ContainerStatus;
  name: string;
  id: string;
  imageId: string;
  /** Last log lines of the running container (stdout and stderr interleaved). */
  logs: string[];
  message: string;
  /** While 'starting': the container the new one replaces ('' or absent when none). */
  replacing?: string;
  /** `--sync`: what the last live update did (`synced 2 files in 38 ms`), '' or absent before one. */
  sync?: string;
}

export interface UiState {
  /** Index into the current build's steps, -1 when none is selected; moves in the graph's order. */
  selectedStep: number;
  /** Show the selected step's logs. */
  showLogs: boolean;
  showHelp: boolean;
  /** List BuildKit's own vertices (load build definition, metadata, context, export) one per row. */
  showInternal: boolean;
  /** Show the current build as a waterfall (where the time went) instead of its layer graph. */
  showWaterfall: boolean;
  width: number;
  height: number;
}

export interface DevState {
  contextDir: string;
  session: SessionStatus;
  watch: WatchState;
  snapshot: SnapshotState;
  current: CurrentBuild | undefined;
  pending: PendingBuild | undefined;
  /** Finished builds, oldest first (bounded). */
  history: BuildRecord[];
  container: ContainerState | undefined;
  ui: UiState;
  /** Latest event time: the renderers' clock. */
  nowMs: number;
  quitting: boolean;
  /** `--sync`: the rules in force, one per entry (`src/ → /app/src (Dockerfile:7)`); absent without. */
  syncRules?: string[];
}

/** Facts reported by controllers. */
export type DevEvent =
  | { type: 'session/connecting'; timeMs: number; url: string }
  | {
      type: 'session/connected';
      timeMs: number;
      url: string;
      builderId: string;
      platform: string;
      latencyMs: number;
    }
  | { type: 'session/latency'; timeMs: number; latencyMs: number }
  | { type: 'session/reconnecting'; timeMs: number; attempt: number; retryAtMs: number; error: string }
  /** `shared`: the watcher is the local agent's, shared with other sessions on the context. */
  | { type: 'watch/started'; timeMs: number; polling: boolean; message: string; shared?: boolean }
  /** The local agent cannot be used (any more): the session watches and syncs in process. */
  | { type: 'agent/unavailable'; timeMs: number; reason: string }
  | { type: 'watch/changed'; timeMs: number; paths: string[]; quietUntilMs: number }
  | { type: 'watch/failed'; timeMs: number; message: string; polling: boolean }
  | { type: 'watch/paused'; timeMs: number }
  | { type: 'watch/resumed'; timeMs: number }
  | { type: 'watch/closed'; timeMs: number }
  /** The ignore file has a bad line (or cannot be read): `error` names the file and the line. */
  | { type: 'ignore/failed'; timeMs: number; error: string }
  /** The ignore file is valid again after `ignore/failed`. */
  | { type: 'ignore/fixed'; timeMs: number }
  /** `full`: a rescan of the whole context ('all'), `paths` is then empty. */
  | { type: 'sync/started'; timeMs: number; paths: string[]; full?: boolean }
  | { type: 'sync/acked'; timeMs: number; snapshotId: string; entries: number; bytesSent: number }
  | { type: 'sync/failed'; timeMs: number; error: string }
  /** Rate-limited, like the build's `sync/progress`. */
  | { type: 'sync/progressed'; timeMs: number; progress: SyncProgress }
  | { type: 'build/pending'; timeMs: number; trigger: BuildTrigger; waitingFor: string }
  | { type: 'build/started'; timeMs: number; buildId: string; trigger: BuildTrigger }
  | { type: 'build/progressed'; timeMs: number; buildId: string; event: BuildEvent }
  | { type: 'build/cancelled'; timeMs: number; buildId: string; reason: string }
  | { type: 'build/finished'; timeMs: number; buildId: string; ok: boolean; imageId: string; error: string }
  | { type: 'load/started'; timeMs: number; buildId: string; imageId: string }
  | { type: 'load/finished'; timeMs: number; buildId: string; bytes: number; imageSize: number }
  | { type: 'load/failed'; timeMs: number; buildId: string; error: string }
  /** Rate-limited, like the build's `load/progress`. */
  | { type: 'load/progressed'; timeMs: number; buildId: string; progress: LoadProgress }
  | { type: 'container/starting'; timeMs: number; imageId: string }
  | { type: 'container/started'; timeMs: number; id: string; name: string; imageId: string }
  | { type: 'container/kept'; timeMs: number; reason: string }
  | { type: 'container/logged'; timeMs: number; lines: string[] }
  | { type: 'container/exited'; timeMs: number; code: number }
  | { type: 'container/failed'; timeMs: number; error: string }
  /** `--sync`: the rules in force (and rules `--sync auto` could not take, with why). */
  | { type: 'sync/rules'; timeMs: number; rules: string[] }
  /**
   * `--sync`: changed files went into the running container (`ms` from the first change of the
   * batch to the container holding them), then the exec or restart, if any.
   */
  | {
      type: 'container/synced';
      timeMs: number;
      paths: string[];
      files: number;
      deleted: number;
      ms: number;
      exec?: { command: string; exitCode: number; output: string };
      restarted?: boolean;
    }
  /** `--sync`: this batch is not for a live update (why); the next good build replaces the container. */
  | { type: 'container/sync-skipped'; timeMs: number; reason: string }
  /** `--sync`: the live update failed (why); the next good build replaces the container. */
  | { type: 'container/sync-failed'; timeMs: number; error: string }
  /** `--sync`: the container is not running; `paths` wait for it to run again. */
  | { type: 'container/sync-waiting'; timeMs: number; paths: number }
  /** `--sync`: the new image holds what the running container was given: it keeps running. */
  | { type: 'container/in-sync'; timeMs: number; imageId: string; checked: number }
  /** `--sync`: the running container differs from the new image at `paths`: it is replaced. */
  | { type: 'container/drifted'; timeMs: number; paths: string[] }
  | { type: 'ui/resized'; timeMs: number; width: number; height: number };

/** Intents from keys (and tests). */
export type DevCommand =
  | { type: 'rebuild/requested' }
  | { type: 'watch/toggled' }
  | { type: 'quit/requested' }
  | { type: 'step/moved'; delta: number }
  | { type: 'logs/toggled' }
  | { type: 'help/toggled' }
  | { type: 'internal/toggled' }
  | { type: 'waterfall/toggled' };
