/**
 * `depot dev --sync`: what goes into the running container when files change, without a rebuild.
 * The shapes shared by the rules (sync-rules.ts: flags, depot.json, `--sync auto` from the
 * Dockerfile), the loop (loop.ts) and the container side (src/docker/container-sync.ts).
 */

/** One rule: a context path and where it lives in the running container. */
export interface SyncRule {
  /** Context-relative, `/`-separated, no leading or trailing `/`; '' for the whole context. */
  src: string;
  /** Absolute path in the container that `src` maps to. */
  dest: string;
  /** Owner of what is synced (a COPY's `--chown`, resolved to numbers); root when absent. */
  uid?: number;
  gid?: number;
  /** A COPY's `--chmod` (octal, applied to files and directories alike, as BuildKit does). */
  mode?: number;
  /** Where the rule comes from, for the dev screen: `--sync`, `depot.json`, `Dockerfile:12`. */
  origin: string;
}

/** Everything `--sync` and its companions say, after parsing and validation. */
export interface SyncSettings {
  rules: SyncRule[];
  /** `--sync-exec`: run in the container (`sh -c`) after each sync. */
  exec?: string;
  /** `--sync-restart`: restart the container after each sync. */
  restart: boolean;
  /** `--rebuild-on`: context paths (ignore-file patterns) whose change always rebuilds. */
  rebuildOn: string[];
  /**
   * `--sync auto`: context paths (ignore-file patterns, '' for the whole context) that other steps
   * of the build read (a COPY before a RUN, a stage the image depends on): a change under one
   * rebuilds, since the synced copy alone would not make what the build makes. `origin` names
   * the step (`Dockerfile:3`).
   */
  buildReads?: Array<{ pattern: string; origin: string }>;
}

/** One change to make in the container. Paths are absolute container paths. */
export type SyncChange =
  | { kind: 'file'; dest: string; source: string; mode: number; uid: number; gid: number }
  | { kind: 'symlink'; dest: string; target: string; uid: number; gid: number }
  | { kind: 'dir'; dest: string; mode: number; uid: number; gid: number }
  | { kind: 'delete'; dest: string };

/** What a batch of changed context paths means for the running container. */
export type SyncPlan =
  | { kind: 'sync'; changes: SyncChange[] }
  /** Not syncable: rebuild and replace (why: a path no rule covers, a --rebuild-on match, …). */
  | { kind: 'rebuild'; reason: string };

/** The container side, over the local engine's API. */
export interface ContainerSyncer {
  /**
   * Makes `changes` in the container: files, links and directories in one archive upload (owner,
   * mode and links kept), deletions after. Rejects with a DepotError saying what failed
   * (`container_not_running` when it does not run: nothing was changed). Resolves with when the
   * container's process last started (the engine's State.StartedAt, checked before the upload).
   */
  apply(
    containerId: string,
    changes: readonly SyncChange[],
    signal?: AbortSignal,
  ): Promise<{ startedAt: string }>;
  /** Which of these container paths do not exist (as anything: a link counts). */
  missing(containerId: string, dests: readonly string[], signal?: AbortSignal): Promise<string[]>;
  /** Runs `sh -c command` in the container; its exit code and (capped) output. */
  exec(
    containerId: string,
    command: string,
    signal?: AbortSignal,
  ): Promise<{ exitCode: number; output: string }>;
  /** Restarts the container (its process starts again with the synced files in place). */
  restart(containerId: string, signal?: AbortSignal): Promise<void>;
  /** sha256 (hex) of each regular file at these container paths; undefined where there is none. */
  hashes(
    containerId: string,
    dests: readonly string[],
    signal?: AbortSignal,
  ): Promise<Map<string, string | undefined>>;
  /** When the container's process last started (the engine's State.StartedAt), '' when not running. */
  startedAt(containerId: string, signal?: AbortSignal): Promise<string>;
}
