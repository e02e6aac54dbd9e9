/**
 * One platform's sync and Build, shared by the single- and multi-platform paths: sync the scan
 * (a part of the context when the Dockerfile names what it reads), build, and when the engine asks
 * for context the part does not hold, sync the whole context and build again, once.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import type { ContextScan } from '../context-sync/index.js';
import type { BuildEvent } from '../progress/index.js';
import type { BuildEvent__Output, BuildRequest } from '../protocol/index.js';
import { type BuilderSession, loadSyncBase, saveSyncBase, wireToEvent } from '../session/index.js';
import { builderTakesScope } from './context-scope.js';
import { syncAcked, syncWithProgress } from './progress-events.js';

/** A build's code when the engine asked for context the client did not sync. */
export const CONTEXT_INCOMPLETE = 'context_incomplete';

export interface SyncBuildOptions {
  session: BuilderSession;
  hello: { builderId: string; capabilities: readonly string[] };
  projectKey: string;
  contextDir: string;
  dockerfileAbs: string | undefined;
  /** The Dockerfile's content when it is not a file of the context (stdin, outside). */
  dockerfileContent: Buffer | undefined;
  scan: ContextScan;
  /** The whole context's scan (shared by platforms: called at most once per build). */
  fullScan: () => Promise<ContextScan>;
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
  onEvent: (ev: BuildEvent__Output) => void;
}

/** Syncs and builds; resolves with the SSH relay's error, if it failed. */
export async function syncThenBuild(o: SyncBuildOptions): Promise<{ relayError?: Error }> {
  let scan = o.scan;
  // A builder that cannot serve a part of a context gets all of it.
  if (scan.scope && !builderTakesScope(o.hello.capabilities)) scan = await o.fullScan();
  let relayError: Error | undefined;
  for (let attempt = 0; ; attempt++) {
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

    const buildId = attempt === 0 ? o.buildId : randomUUID();
    let incomplete = '';
    // The agent relay is open before Build asks for it, and ends with the build.
    const relay = o.ssh && Object.keys(o.ssh).length ? o.session.forwardSsh(buildId, o.ssh) : undefined;
    try {
      for await (const ev of o.session.build(
        {
          ...o.request,
          snapshotId: synced.snapshotId,
          dockerfilePath: located.path,
          dockerfileContent: located.content ?? o.dockerfileContent ?? Buffer.alloc(0),
          buildId,
          contextScoped: scan.scope !== undefined,
          contextScope: scan.scope ?? [],
        },
        o.signal,
      )) {
        if (scan.scope && ev.result && !ev.result.ok && ev.result.errorCode === CONTEXT_INCOMPLETE) {
          incomplete = ev.result.error;
          continue;
        }
        const e = wireToEvent(ev);
        if (e) o.emit(e);
        o.onEvent(ev);
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
    scan = await o.fullScan();
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
  const rel = relative(contextDir, dockerfileAbs);
  const inside = rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
  const relPosix = rel.split(sep).join('/');
  const entry = inside ? entries.find((e) => e.path === relPosix) : undefined;
  if (entry && (entry.type === 'file' || entry.type === 'hardlink'))
    return { path: relPosix, content: undefined };
  return { path: '', content: await readFile(dockerfileAbs) };
}
