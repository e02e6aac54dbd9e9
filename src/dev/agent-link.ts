/**
 * `depot dev` through the local agent: the agent's watcher of the context (one per context, shared
 * by every session and build on it) feeds the loop, and each sync goes through the agent's scan and
 * warm channel. Once the agent cannot be used (none could start, it stopped, its subscription
 * dropped, a sync found it gone) the session goes on in process — its own watcher, its own scan —
 * and never goes back to the agent: one switch, told once.
 */
import { AgentUnavailable, type AgentWatch, agentWatch } from '../agent/client.js';
import type { AgentPaths } from '../agent/paths.js';
import type { BuilderRef } from '../agent/protocol.js';
import type { Watcher, WatcherHandlers } from './ports.js';

/** The session's use of the agent, shared by its watcher and its builder. */
export interface DevAgent {
  paths: AgentPaths;
  /** The builder as the agent reaches it. */
  builder: BuilderRef;
  /** Whether work still goes through the agent. */
  readonly active: boolean;
  /** Stops using the agent; the first call tells the listeners why, later ones do nothing. */
  fallBack(reason: string): void;
  /** Called once, when the session stops using the agent. */
  onFallback(fn: (reason: string) => void): void;
}

/** Creates the session's agent link (active until `fallBack`). */
export function createDevAgent(paths: AgentPaths, builder: BuilderRef): DevAgent {
  let active = true;
  const listeners: Array<(reason: string) => void> = [];
  return {
    paths,
    builder,
    get active() {
      return active;
    },
    fallBack(reason) {
      if (!active) return;
      active = false;
      for (const fn of listeners) fn(reason);
    },
    onFallback(fn) {
      listeners.push(fn);
    },
  };
}

export interface AgentWatcherOptions {
  agent: DevAgent;
  contextDir: string;
  /** Absolute path of the Dockerfile. */
  dockerfile?: string;
  /** The in-process watcher, made when the agent cannot be used. */
  local: () => Watcher;
}

/**
 * A Watcher fed by the agent's subscription while it lasts, then by an in-process watcher. After
 * the switch '.' is reported: what changed while neither watched is unknown (a full rescan).
 */
export function createAgentWatcher(opts: AgentWatcherOptions): Watcher {
  const { agent } = opts;
  let sub: AgentWatch | undefined;
  let local: Watcher | undefined;
  let localStart: ReturnType<Watcher['start']> | undefined;
  /** The agent's watcher was live: a fallback from now on happens mid-session. */
  let shared = false;
  let closed = false;

  const startLocal = (handlers: WatcherHandlers) => {
    local ??= opts.local();
    localStart ??= local.start(handlers);
    return localStart;
  };

  return {
    async start(handlers) {
      agent.onFallback(() => {
        sub?.close();
        sub = undefined;
        // While starting, start() itself goes on with the in-process watcher.
        if (closed || !shared) return;
        startLocal(handlers).then(
          (r) => {
            if (closed) return;
            if (r.polling) handlers.onError(r.message, true);
            handlers.onChange(['.']);
          },
          (err: unknown) => handlers.onError((err as Error).message, false),
        );
      });
      if (agent.active) {
        try {
          const w = await agentWatch(
            agent.paths,
            { op: 'watch', contextDir: opts.contextDir, dockerfile: opts.dockerfile },
            {
              onChange: (paths) => handlers.onChange(paths),
              onError: (message, polling) => handlers.onError(message, polling),
              onIgnoreRules: (error) => handlers.onIgnoreRules?.(error),
              onDropped: (reason) => agent.fallBack(reason),
            },
          );
          if (closed || !agent.active) w.close();
          else {
            sub = w;
            shared = true;
            return { polling: w.polling, message: w.message, shared: true };
          }
        } catch (err) {
          if (!(err instanceof AgentUnavailable)) throw err;
          agent.fallBack(err.message);
        }
      }
      return startLocal(handlers);
    },

    async close() {
      closed = true;
      sub?.close();
      sub = undefined;
      await local?.close();
    },
  };
}
