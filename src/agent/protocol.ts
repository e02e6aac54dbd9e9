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
 */
export const AGENT_PROTOCOL = 3;

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

export interface AgentStatus {
  protocol: number;
  version: string;
  pid: number;
  startedAt: string;
  idleExitMs: number;
  contexts: AgentContextStatus[];
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
  | { error: { code: string; message: string; hint?: string } };

/** Longest request line the agent reads. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** Splits a byte stream into JSON lines; calls `onLine` for each. Returns the data handler. */
export function lineReader(onLine: (value: unknown) => void, maxBytes = Number.POSITIVE_INFINITY) {
  let buf = '';
  return (chunk: Buffer | string): void => {
    buf += chunk.toString();
    if (buf.length > maxBytes) throw new Error('request too large');
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) onLine(JSON.parse(line));
    }
  };
}
