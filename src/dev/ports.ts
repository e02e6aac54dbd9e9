/**
 * The edges of the dev loop: every piece of I/O the controllers use, as interfaces with fakes of
 * the same names in tests (FakeClock, FakeWatcher, FakeDevBuilder, FakeContainerRunner).
 */
import type { BuildEvent, ProgressCounts, SyncPhase } from '../progress/index.js';

/** Time and timers, injectable so that coalescing and backoff are testable without sleeps. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface WatcherHandlers {
  /** Raw change notifications: context-relative '/'-separated paths, already filtered by ignore rules. */
  onChange(paths: string[]): void;
  /** The watcher failed; `polling` tells whether it fell back to polling and goes on. */
  onError(message: string, polling: boolean): void;
  /**
   * The ignore file cannot be used (`error` says why and where; the last good rules stay in
   * force, or only the ignore files are watched when there were none), or is valid again ('').
   */
  onIgnoreRules?(error: string): void;
}

/** Watches the build context. */
export interface Watcher {
  /** `shared`: the local agent's watcher, shared with every other session on the context. */
  start(handlers: WatcherHandlers): Promise<{ polling: boolean; message: string; shared?: boolean }>;
  close(): Promise<void>;
}

/** What the builder side of the loop can do (wraps the session, context-sync and local engine). */
export interface DevBuilder {
  /** Opens (or re-opens) the channel; resolves with who answered. Rejects when unreachable. */
  connect(signal?: AbortSignal): Promise<{ builderId: string; platform: string; latencyMs: number }>;
  /** Round-trip time of a cheap call, ms. Rejects when the channel is down. */
  ping(signal?: AbortSignal): Promise<number>;
  /**
   * Pre-syncs the context: `changed` lists the paths that changed since the last sync
   * (re-hashing only those), or 'all' for a full rescan. Resolves with the acknowledged snapshot.
   */
  sync(
    changed: string[] | 'all',
    signal?: AbortSignal,
    onProgress?: (phase: SyncPhase, counts: ProgressCounts) => void,
  ): Promise<{ snapshotId: string; entries: number; bytesSent: number }>;
  /** Builds a snapshot; yields the client's BuildEvents, ending with 'build/finished'. Aborting cancels it in the engine. */
  build(snapshotId: string, buildId: string, signal: AbortSignal): AsyncIterable<BuildEvent>;
  /** Loads the image into the local engine (only missing layers) and tags it. */
  load(
    imageId: string,
    signal?: AbortSignal,
    onProgress?: (counts: ProgressCounts) => void,
  ): Promise<{ bytes: number; imageSize: number }>;
  close(): Promise<void>;
}

/** Runs the built image as a container on the local engine (`--run`). */
export interface ContainerRunner {
  /** Stops and removes the previous container (if any) and starts a new one from `imageId`. */
  replace(imageId: string): Promise<{ id: string; name: string }>;
  /** Follows the current container's logs; returns a function that stops following. */
  follow(id: string, onLines: (lines: string[]) => void, onExit: (code: number) => void): () => void;
  /** Stops following and removes the session's container (the session owns it). */
  close(): Promise<void>;
}
