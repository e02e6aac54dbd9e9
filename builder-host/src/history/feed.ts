import { EventEmitter } from 'node:events';
import type { BuildSummary } from './types.js';

/** Build summaries as builds start and finish, in process; what WatchBuilds streams. */
export interface BuildFeed {
  /** Announces a build's start (result 'running') or end; keeps the set of running builds. */
  publish(summary: BuildSummary): void;
  /** Calls `listener` for every later summary; returns the unsubscribe function. */
  subscribe(listener: (summary: BuildSummary) => void): () => void;
  /** Builds started and not finished yet, oldest first. */
  running(): BuildSummary[];
}

/** A BuildFeed over an EventEmitter. */
export function createBuildFeed(): BuildFeed {
  const emitter = new EventEmitter();
  // Every WatchBuilds call is one listener; there is no sensible cap.
  emitter.setMaxListeners(0);
  const running = new Map<string, BuildSummary>();
  const keyOf = (s: BuildSummary) => `${s.buildId}\0${s.project}\0${s.startedMs}`;
  return {
    publish(summary) {
      const key = keyOf(summary);
      if (summary.result === 'running') running.set(key, summary);
      else running.delete(key);
      emitter.emit('summary', summary);
    },
    subscribe(listener) {
      emitter.on('summary', listener);
      return () => emitter.off('summary', listener);
    },
    running() {
      return [...running.values()].sort((a, b) => a.startedMs - b.startedMs);
    },
  };
}
