/**
 * Talking to the local agent: start it when it is not running (detached, its output to its log),
 * send one request, read its answers. Anything wrong with the agent itself (it cannot start, it
 * died mid-answer, it speaks another protocol) is an AgentUnavailable: the caller does the work in
 * process instead. Errors of the work (a context that cannot be read, a builder that refuses the
 * token) come back as the DepotError the in-process path would have thrown.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync, truncateSync } from 'node:fs';
import { connect } from 'node:net';
import { DepotError } from '../errors/index.js';
import { type AgentPaths, ensureAgentDir } from './paths.js';
import {
  AGENT_PROTOCOL,
  type AgentMessage,
  type AgentRequest,
  type AgentStatus,
  type AgentSyncDone,
  lineReader,
  MAX_ANSWER_BYTES,
  MAX_WATCH_MESSAGE_BYTES,
} from './protocol.js';

/** The agent could not be used; do the work here. */
export class AgentUnavailable extends Error {}

const START_TIMEOUT_MS = 5000;
const LOG_MAX_BYTES = 1024 * 1024;

/**
 * Sends `req`; calls `onMessage` for each answer; resolves with the last one. Aborting `signal`
 * drops the connection and rejects with its reason (the agent finishes the work for the next ask).
 */
export function agentRequest(
  paths: AgentPaths,
  req: AgentRequest,
  onMessage: (m: AgentMessage) => void = () => {},
  signal?: AbortSignal,
): Promise<AgentMessage> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const sock = connect(paths.socket);
    let last: AgentMessage | undefined;
    let failed = false;
    const onAbort = () => fail(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      reject(err);
    };
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    const read = lineReader((v) => {
      last = v as AgentMessage;
      onMessage(last);
    }, MAX_ANSWER_BYTES);
    sock.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch (err) {
        fail(new AgentUnavailable(`the agent answered garbage: ${(err as Error).message}`));
      }
    });
    sock.on('error', (err) =>
      fail(new AgentUnavailable(`the agent is not reachable: ${(err as Error).message}`)),
    );
    sock.on('close', () => {
      if (failed) return;
      signal?.removeEventListener('abort', onAbort);
      if (!last) reject(new AgentUnavailable('the agent closed the connection without an answer'));
      else resolve(last);
    });
  });
}

/** The running agent's status, or undefined when none answers. */
export async function agentStatus(paths: AgentPaths): Promise<AgentStatus | undefined> {
  try {
    const m = await agentRequest(paths, { op: 'status' });
    return 'status' in m ? m.status : undefined;
  } catch (err) {
    if (err instanceof AgentUnavailable) return undefined;
    throw err;
  }
}

/** Stops the running agent; resolves once it is gone (false: none was running). */
export async function stopAgent(paths: AgentPaths): Promise<boolean> {
  try {
    await agentRequest(paths, { op: 'stop' });
  } catch (err) {
    if (err instanceof AgentUnavailable) return false;
    throw err;
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && (await agentStatus(paths))) await new Promise((r) => setTimeout(r, 20));
  return true;
}

/**
 * Makes sure an agent of this protocol answers: starts one (`node BIN agent run`, detached) when
 * none does, replaces one that speaks another protocol.
 */
export async function ensureAgent(paths: AgentPaths, bin: string): Promise<void> {
  const running = await agentStatus(paths);
  if (running?.protocol === AGENT_PROTOCOL) return;
  if (running) await stopAgent(paths);
  try {
    ensureAgentDir(paths);
  } catch (err) {
    throw new AgentUnavailable((err as Error).message);
  }
  try {
    if (statSync(paths.log).size > LOG_MAX_BYTES) truncateSync(paths.log, 0);
  } catch {}
  const out = openSync(paths.log, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [bin, 'agent', 'run'], {
      detached: true,
      stdio: ['ignore', out, out],
      cwd: '/',
      env: process.env,
    });
    child.unref();
  } finally {
    closeSync(out);
  }
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const s = await agentStatus(paths);
    if (s?.protocol === AGENT_PROTOCOL) return;
    if (Date.now() > deadline) throw new AgentUnavailable(`the agent did not start (see ${paths.log})`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/** Scans and syncs through the agent; progress and the scan's size come through `onMessage`. */
export async function agentSync(
  paths: AgentPaths,
  req: Extract<AgentRequest, { op: 'sync' }>,
  onMessage: (m: AgentMessage) => void,
  signal?: AbortSignal,
): Promise<AgentSyncDone> {
  const last = await agentRequest(paths, req, onMessage, signal);
  if ('done' in last) return last.done;
  if ('error' in last) {
    const { code, message, hint } = last.error;
    if (code === 'agent_error' || code === 'agent_bad_request' || code === 'agent_busy')
      throw new AgentUnavailable(message);
    throw new DepotError(code, message, hint);
  }
  throw new AgentUnavailable('the agent ended the sync without a result');
}

/** What a `watch` subscription reports; the same facts as the in-process watcher's handlers. */
export interface AgentWatchHandlers {
  onChange(paths: string[]): void;
  onError(message: string, polling: boolean): void;
  onIgnoreRules(error: string): void;
  /** The subscription ended without `close()` (the agent stopped or died): `reason` says how. */
  onDropped(reason: string): void;
}

/** A live subscription to the agent's watcher of one context. */
export interface AgentWatch {
  /** How the agent's watcher watches. */
  polling: boolean;
  message: string;
  /** Ends the subscription (no `onDropped`). */
  close(): void;
}

const WATCH_START_TIMEOUT_MS = 10_000;

/**
 * Subscribes to the changes the agent sees in a context. Resolves once the agent's watcher is live;
 * rejects with AgentUnavailable when the agent cannot watch it (busy, the watcher failed, gone).
 */
export function agentWatch(
  paths: AgentPaths,
  req: Extract<AgentRequest, { op: 'watch' }>,
  handlers: AgentWatchHandlers,
): Promise<AgentWatch> {
  return new Promise((resolve, reject) => {
    const sock = connect(paths.socket);
    let live = false;
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      sock.destroy();
      if (live) handlers.onDropped(reason);
      else reject(new AgentUnavailable(reason));
    };
    const timer = setTimeout(() => end('the agent did not start watching in time'), WATCH_START_TIMEOUT_MS);
    timer.unref();
    const onMessage = (v: unknown) => {
      const m = v as AgentMessage;
      if (ended) return;
      if ('watching' in m && !live) {
        live = true;
        clearTimeout(timer);
        resolve({
          polling: m.watching.polling,
          message: m.watching.message,
          close() {
            ended = true;
            sock.destroy();
          },
        });
      } else if ('error' in m) end(m.error.message);
      else if (!live) end('the agent answered a watch with something else');
      else if ('changed' in m && Array.isArray(m.changed.paths)) handlers.onChange(m.changed.paths);
      else if ('rescan' in m) {
        if (m.rescan.failed) handlers.onError(m.rescan.reason, m.rescan.failed.polling);
        handlers.onChange(['.']);
      } else if ('ignoreRules' in m) handlers.onIgnoreRules(m.ignoreRules.error);
    };
    // A `changed` message is bounded by the agent; anything much longer is not its answer.
    const read = lineReader(onMessage, MAX_WATCH_MESSAGE_BYTES * 4);
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (chunk: Buffer) => {
      try {
        read(chunk);
      } catch (err) {
        end(`the agent answered garbage: ${(err as Error).message}`);
      }
    });
    sock.on('error', (err) => end(`the agent is not reachable: ${err.message}`));
    sock.on('close', () => end('the agent closed the watch'));
  });
}
