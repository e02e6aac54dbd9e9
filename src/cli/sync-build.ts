/**
 * One platform's sync and Build, shared by the single- and multi-platform paths: sync the scan
 * (a part of the context when the Dockerfile names what it reads), build, and when the engine asks
 * for context the part does not hold, sync the whole context and build again, once.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AgentUnavailable, agentSync } from '../agent/client.js';
import type { AgentPaths } from '../agent/paths.js';
import type { BuilderRef } from '../agent/protocol.js';
import { type ContextScan, dockerfileEntry } from '../context-sync/index.js';
import { builderTakesScope } from '../dockerfile/context-scope.js';
import type { BuildEvent } from '../progress/index.js';
import { type BuildEvent__Output, type BuildRequest, CONTEXT_INCOMPLETE } from '../protocol/index.js';
import {
  type BuilderSession,
  loadSyncBase,
  saveSyncBase,
  transportFromEnv,
  wireToEvent,
} from '../session/index.js';
import { syncAcked, syncProgressEvents, syncWithProgress } from './progress-events.js';

export interface SyncBuildOptions {
  session: BuilderSession;
  hello: { builderId: string; capabilities: readonly string[] };
  projectKey: string;
  contextDir: string;
  dockerfileAbs: string | undefined;
  /** The Dockerfile's content when it is not a file of the context (stdin, outside). */
  dockerfileContent: Buffer | undefined;
  /** The Dockerfile to build instead of the synced one (the smart cache's plan). */
  dockerfileOverride?: Buffer;
  /** The scan of what the build reads (the whole context, or its scope); called at most once. */
  scan: () => Promise<ContextScan>;
  /** The whole context's scan (shared by platforms: called at most once per build). */
  fullScan: () => Promise<ContextScan>;
  /**
   * Scan and sync through the local agent (its watcher and warm channel) instead: the scope the
   * build reads (undefined: all) and the builder as the agent reaches it. When the agent cannot be
   * used, the sync happens here, with a note.
   */
  agent?: { paths: AgentPaths; builder: BuilderRef; scope: string[] | undefined };
  /** Everything of the request but what this module decides. */
  request: Omit<
    BuildRequest,
    'snapshotId' | 'dockerfilePath' | 'dockerfileContent' | 'buildId' | 'contextScoped' | 'contextScope'
  >;
  buildId: string;
  /** SSH agents to forward by id (opened before each Build, closed after it). */
  ssh?: Readonly<Record<string, string>>;
  /** Writes of the sync base, one at a time (several platforms may share a builder). */
  saveQueue?: { run(write: () => Promise<void>): Promise<void> };
  signal: AbortSignal;
  emit: (e: BuildEvent) => void;
  /** Each event of the Build stream that is not the dropped first attempt's result. */
  onEvent: (ev: BuildEvent__Output) => void | Promise<void>;
}

/**
 * The `agent` option of a build on `target` (none without `paths`): the agent reaches the builder
 * as this process would, with the transport settings of this environment.
 */
export function agentSyncFor(
  paths: AgentPaths | undefined,
  target: { url: string; token: string; project?: string },
  scope: string[] | undefined,
): SyncBuildOptions['agent'] {
  if (!paths) return undefined;
  const { url, token } = target;
  return {
    paths,
    scope,
    builder: { url, token, project: target.project || '', transport: transportFromEnv() },
  };
}

interface Synced {
  snapshotId: string;
  scope?: string[];
  dockerfilePath: string;
  dockerfileContent: Buffer | undefined;
}

/** Syncs here: scan (given), delta against the base this builder acknowledged, progress. */
async function syncHere(o: SyncBuildOptions, scan: ContextScan): Promise<Synced> {
  const located = await locateDockerfile(scan.entries, o.contextDir, o.dockerfileAbs);
  o.emit({ type: 'sync/started', timeMs: Date.now(), entries: scan.entries.length });
  const base = await loadSyncBase(o.hello.builderId, o.projectKey, o.contextDir);
  const synced = await syncWithProgress(o.session, scan, base, o.signal, o.emit);
  if (synced.snapshotId !== base?.snapshotId) {
    const save = () =>
      saveSyncBase(o.hello.builderId, o.projectKey, o.contextDir, {
        snapshotId: synced.snapshotId,
        entries: scan.entries,
      });
    await (o.saveQueue ? o.saveQueue.run(save) : save());
  }
  o.emit(syncAcked(synced));
  return {
    snapshotId: synced.snapshotId,
    scope: scan.scope,
    dockerfilePath: located.path,
    dockerfileContent: located.content,
  };
}

/** Syncs through the agent: it scans (watched, in memory) and syncs over its own warm channel. */
async function syncByAgent(
  o: SyncBuildOptions,
  agent: NonNullable<SyncBuildOptions['agent']>,
  scope: string[] | undefined,
): Promise<Synced> {
  const hashing = syncProgressEvents(o.emit, 'hashing');
  const uploading = syncProgressEvents(o.emit, 'uploading');
  let started = false;
  let hashed = { files: 0, filesTotal: 0, bytes: 0, bytesTotal: 0 };
  const done = await agentSync(
    agent.paths,
    { op: 'sync', contextDir: o.contextDir, dockerfile: o.dockerfileAbs, scope, builder: agent.builder },
    (m) => {
      if ('started' in m) {
        started = true;
        hashing.finish(hashed);
        o.emit({ type: 'sync/started', timeMs: Date.now(), entries: m.started.entries });
      } else if ('progress' in m) {
        const { phase, ...counts } = m.progress;
        if (phase === 'hashing') {
          hashed = counts;
          hashing.update(counts);
        } else uploading.update(counts);
      }
    },
  );
  if (!started) o.emit({ type: 'sync/started', timeMs: Date.now(), entries: done.entries });
  uploading.finish({
    files: done.blobsSent,
    filesTotal: done.blobsSent,
    bytes: done.bytesSent,
    bytesTotal: done.bytesSent,
  });
  o.emit(syncAcked(done));
  const content = done.dockerfilePath || !o.dockerfileAbs ? undefined : await readFile(o.dockerfileAbs);
  return {
    snapshotId: done.snapshotId,
    scope: done.scope,
    dockerfilePath: done.dockerfilePath,
    dockerfileContent: content,
  };
}

/** Syncs and builds; resolves with the SSH relay's error, if it failed. */
export async function syncThenBuild(o: SyncBuildOptions): Promise<{ relayError?: Error }> {
  const takesScope = builderTakesScope(o.hello.capabilities);
  let agent = o.agent;
  let relayError: Error | undefined;
  for (let attempt = 0; ; attempt++) {
    let synced: Synced | undefined;
    if (agent) {
      try {
        synced = await syncByAgent(o, agent, attempt === 0 && takesScope ? agent.scope : undefined);
      } catch (err) {
        if (!(err instanceof AgentUnavailable)) throw err;
        agent = undefined;
        o.emit({
          type: 'message/logged',
          timeMs: Date.now(),
          text: `${err.message}: syncing without it`,
          info: true,
        });
      }
    }
    if (!synced) {
      let scan = attempt === 0 ? await o.scan() : await o.fullScan();
      // A builder that cannot serve a part of a context gets all of it.
      if (scan.scope && !takesScope) scan = await o.fullScan();
      synced = await syncHere(o, scan);
    }
    const scope = synced.scope;

    const buildId = attempt === 0 ? o.buildId : randomUUID();
    let incomplete = '';
    // The agent relay is open before Build asks for it, and ends with the build.
    const relay = o.ssh && Object.keys(o.ssh).length ? o.session.forwardSsh(buildId, o.ssh) : undefined;
    try {
      for await (const ev of o.session.build(
        {
          ...o.request,
          snapshotId: synced.snapshotId,
          dockerfilePath: synced.dockerfilePath,
          dockerfileContent:
            o.dockerfileOverride ?? synced.dockerfileContent ?? o.dockerfileContent ?? Buffer.alloc(0),
          buildId,
          contextScoped: scope !== undefined,
          contextScope: scope ?? [],
        },
        o.signal,
      )) {
        if (scope && ev.result && !ev.result.ok && ev.result.errorCode === CONTEXT_INCOMPLETE) {
          incomplete = ev.result.error;
          continue;
        }
        const e = wireToEvent(ev);
        if (e) o.emit(e);
        // Awaited: an output's writes hold the stream back.
        await o.onEvent(ev);
      }
    } finally {
      await relay?.close();
      relayError = relay?.error;
    }
    if (!incomplete) return { relayError };
    o.emit({
      type: 'message/logged',
      timeMs: Date.now(),
      text: `${incomplete}: syncing the whole context and building again`,
      info: true,
    });
  }
}

/**
 * Where the builder finds the Dockerfile: its path in the synced context when it is a file there,
 * else its bytes (outside the context, or excluded by .dockerignore).
 */
export async function locateDockerfile(
  entries: ReadonlyArray<{ path: string; type: string }>,
  contextDir: string,
  dockerfileAbs: string | undefined,
): Promise<{ path: string; content: Buffer | undefined }> {
  if (!dockerfileAbs) return { path: '', content: undefined };
  const path = dockerfileEntry(entries, contextDir, dockerfileAbs);
  return path ? { path, content: undefined } : { path: '', content: await readFile(dockerfileAbs) };
}
