/**
 * The agent's wire: one request per unix-socket connection, newline-delimited JSON both ways. The
 * socket's directory is 0700, so only the user who started the agent can reach it.
 */
import type { ClientTransport } from '../session/transport.js';

/**
 * The agent speaks this version; a client meeting another one stops that agent and starts its own.
 * 2: the agent syncs with builder wire protocol 2 (Merkle snapshot ids): an agent left running by an
 * older client would be refused by an upgraded builder.
 * 3: the agent runs whole `depot build` commands in a warm worker (`run`).
 * 4: the `watch` op (a context's change notifications streamed to `depot dev`) and the `watchers` of
 * the status: a client of 4 would take an agent of 3's refusal of `watch` for a broken agent.
 */
export const AGENT_PROTOCOL = 4;

export interface BuilderRef {
  url: string;
  token: string;
  project: string;
  transport: ClientTransport;
}

export type AgentRequest =
  | { op: 'status' }
  | { op: 'stop' }
  | RunRequest
  | {
      /**
       * Streams the changes the agent's watcher of this context sees (`watching`, then `changed`,
       * `rescan`, `ignoreRules`) until the client closes the connection.
       */
      op: 'watch';
      contextDir: string;
      /** Absolute path of the Dockerfile (always reported; it picks the ignore file). */
      dockerfile?: string;
    }
  | {
      op: 'sync';
      contextDir: string;
      /** Absolute path of the Dockerfile (it picks the ignore file), when it is a file. */
      dockerfile?: string;
      /** Only these follow paths (see scanContext); undefined: the whole context. */
      scope?: string[];
      builder: BuilderRef;
    };

/**
 * A whole command run by the agent's warm worker (see worker.ts): the client forwards what the
 * process would have had and relays the output frames (frames.ts).
 */
export interface RunRequest {
  op: 'run';
  protocol: number;
  /** The real path of the client's own entry script: the worker must run that same code. */
  bin: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  umask: number;
  tty: { stdin: boolean; stdout: boolean; stderr: boolean; columns?: number; rows?: number };
}

export interface AgentSyncDone {
  snapshotId: string;
  entries: number;
  totalBytes: number;
  bytesSent: number;
  blobsSent: number;
  filesChanged: number;
  delta: boolean;
  /** The scan's scope when it was a part of the context (symlink targets included). */
  scope?: string[];
  /** Path of the Dockerfile inside the snapshot; '' when it is not a file of it. */
  dockerfilePath: string;
  /** How the agent got the scan: reused as it was, updated path by path, or walked afresh. */
  scan: 'reused' | 'updated' | 'walked';
  builderId: string;
}

export interface AgentContextStatus {
  contextDir: string;
  scope?: string[];
  entries: number;
  watching: boolean;
  scans: { reused: number; updated: number; walked: number };
  /** Syncs made in the background after edits, to the builder of the last build. */
  presyncs: number;
}

export interface AgentWatcherStatus {
  contextDir: string;
  dockerfile?: string;
  /** The watcher is up (false while it starts, or when it could not). */
  live: boolean;
  polling: boolean;
  /** Open `watch` connections (dev sessions) fed by this watcher. */
  subscribers: number;
}

export interface AgentStatus {
  protocol: number;
  version: string;
  pid: number;
  startedAt: string;
  idleExitMs: number;
  contexts: AgentContextStatus[];
  /** One per watched (context, Dockerfile), shared by every scan and subscriber of it. */
  watchers: AgentWatcherStatus[];
  builders: number;
  /** Builds handed to a warm worker, and the state of the next one. */
  runs: number;
  worker: 'ready' | 'starting' | 'off';
}

export type AgentMessage =
  | { started: { entries: number } }
  | {
      progress: {
        phase: 'hashing' | 'uploading';
        files: number;
        filesTotal: number;
        bytes: number;
        bytesTotal: number;
      };
    }
  | { done: AgentSyncDone }
  | { status: AgentStatus }
  | { stopping: true }
  /** A `watch` is live: how the watcher watches (`message` says why it polls). */
  | { watching: { polling: boolean; message: string } }
  /** Context-relative '/' paths that changed ('.': anything may have; '../…': outside the context). */
  | { changed: { paths: string[] } }
  /**
   * What changed is not known path by path: the watcher failed (`failed`, and whether it polls
   * now) or the subscriber fell behind. Anything may have changed.
   */
  | { rescan: { reason: string; failed?: { polling: boolean } } }
  /** Why the ignore file cannot be used ('' once it is valid again). */
  | { ignoreRules: { error: string } }
  | { error: { code: string; message: string; hint?: string } };

/** Longest request line the agent reads. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** `watch` connections open at once; one more is refused (`agent_busy`): that client watches itself. */
export const MAX_WATCH_SUBSCRIBERS = 64;
/** Paths in one `changed` message, and their bytes: more go in the next message. */
export const MAX_WATCH_PATHS = 256;
export const MAX_WATCH_MESSAGE_BYTES = 64 * 1024;
/** Paths a subscriber may have waiting; beyond them it gets one `rescan` instead. */
export const MAX_WATCH_PENDING = 4096;
/** Bytes unsent to a slow subscriber before its changes are dropped for one `rescan`. */
export const MAX_WATCH_BUFFERED = 1024 * 1024;
/** Longest line a client reads from the agent (the biggest is a status). */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** Splits a byte stream into JSON lines; calls `onLine` for each. Returns the data handler. */
export function lineReader(onLine: (value: unknown) => void, maxBytes = Number.POSITIVE_INFINITY) {
  let buf = '';
  return (chunk: Buffer | string): void => {
    buf += chunk.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.length > maxBytes) throw new Error('line too large');
      if (line.trim()) onLine(JSON.parse(line));
    }
    // What is left is one unfinished line.
    if (buf.length > maxBytes) throw new Error('line too large');
  };
}
