/**
 * The real DevBuilder: one builder session kept open for the whole `depot dev` run, an in-memory
 * context scan updated path by path, deltas against the last snapshot the builder acknowledged
 * (persisted, so a restart of either side resumes from it), builds and loads. With the local agent,
 * syncs go through it (its watched scan, its warm channel, its acknowledged base) while builds and
 * loads stay here; once it cannot be used, the scan here starts afresh.
 */
import { readFile, realpath } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { AgentUnavailable, agentSync } from '../agent/client.js';
import type { ContextScan, ScanOptions } from '../context-sync/index.js';
import * as contextSync from '../context-sync/index.js';
import type { LocalEngine } from '../docker/index.js';
import { builderTakesScope, contextScope, touchesScope } from '../dockerfile/context-scope.js';
import type { BuildEvent, ProgressCounts, SyncPhase } from '../progress/index.js';
import { CONTEXT_INCOMPLETE, compileInclude } from '../protocol/follow-paths.js';
import type { EngineOptions } from '../protocol/generated/depot/builder/v1/EngineOptions.js';
import type { RegistryAuth } from '../registry/index.js';
import {
  type BuilderSession,
  type ClientTransport,
  ContentChangedError,
  createBuilderSession,
  DepotError,
  loadImage,
  loadSyncBase,
  requireBuildCapabilities,
  type SshRelay,
  type SyncBase,
  saveSyncBase,
  wireToEvent,
} from '../session/index.js';
import { contextFiles } from '../smart-cache/context-files.js';
import { smartReuseWatcher } from '../smart-cache/marks.js';
import { planSmartCache, type SmartPlan } from '../smart-cache/plan.js';
import type { DevAgent } from './agent-link.js';
import type { DevBuilder } from './ports.js';

/** What `depot build` would be asked, fixed for the whole dev session. */
export interface DevBuildOptions {
  tags: string[];
  buildArgs: Record<string, string>;
  target: string;
  platform: string;
  noCache: boolean;
  pull: boolean;
  labels: Record<string, string>;
  /** `--secret` values by id (read once at start); sent with every build, never shown. */
  secrets?: Record<string, Buffer>;
  /** `--ssh` agents: id → local agent socket, relayed for every build. */
  ssh?: Record<string, string>;
  /** docker build's engine flags (`--network`, `--add-host`, …), checked by the CLI. */
  engineOptions?: EngineOptions;
}

export interface DevBuilderOptions {
  url: string;
  token: string;
  project?: string;
  /** How the connection is secured; default: the environment's settings. */
  transport?: ClientTransport;
  contextDir: string;
  /** `path`: absolute path of the Dockerfile (inside the context or not); `content`: stdin. */
  dockerfile: { path?: string; content?: Buffer };
  build: DevBuildOptions;
  localEngine: LocalEngine;
  /** The builder runs against the local engine: images are local already, load only tags. */
  isEmbedded: boolean;
  /** Ping answers slower than this count as down; default 5000 ms. */
  pingTimeoutMs?: number;
  /**
   * Registry credentials for a build of this Dockerfile text (its base images' registries);
   * asked before every build. Default: none.
   */
  registryAuth?: (dockerfileText: string) => Promise<Record<string, RegistryAuth>>;
  /** Sync through the local agent while it can be used. */
  agent?: DevAgent;
  /**
   * Plan each build with the smart cache (installs before the rest of the context, where sound),
   * and mark the installs it reused (`step/reused`).
   */
  smartCache?: boolean;
}

type UpdateScan = (prev: ContextScan, changed: string[], opts: ScanOptions) => Promise<ContextScan>;

/** The incremental rescan, once context-sync has it; a full scan otherwise. */
function incrementalScan(): UpdateScan | undefined {
  const fn = (contextSync as Record<string, unknown>).updateScan;
  return typeof fn === 'function' ? (fn as UpdateScan) : undefined;
}

/** How the Dockerfile travels with one snapshot: by its path in the context, or as content. */
interface DockerfileRef {
  path: string;
  content: Buffer;
}

const REMEMBERED_SNAPSHOTS = 16;

/** Creates the DevBuilder behind `depot dev` (no I/O until `connect`). */
export function createDevBuilder(opts: DevBuilderOptions): DevBuilder {
  const project = opts.project ?? '';
  const content = opts.dockerfile.content;
  const dockerfilePath = content ? undefined : (opts.dockerfile.path ?? join(opts.contextDir, 'Dockerfile'));
  const scanOpts: ScanOptions = { contextDir: opts.contextDir, dockerfile: dockerfilePath };
  const pingTimeoutMs = opts.pingTimeoutMs ?? 5000;

  let session: BuilderSession | undefined;
  let builderId = '';
  let capabilities: string[] = [];
  const secrets = opts.build.secrets ?? {};
  const ssh = opts.build.ssh ?? {};
  const sshIds = Object.keys(ssh);
  const needs = { secrets: Object.keys(secrets).length > 0, ssh: sshIds.length > 0 };
  let scan: ContextScan | undefined;
  /** The last snapshot `builderId` acknowledged for this context; loaded from disk once per builder id. */
  let base: SyncBase | undefined;
  let baseFor = '';
  /** Serializes syncs: each one diffs against the previous one's result. */
  let syncQueue: Promise<unknown> = Promise.resolve();
  /** Changed paths not yet folded into `scan` (a failed rescan must not forget them). */
  const dirty = new Set<string>();
  const dockerfiles = new Map<string, DockerfileRef>();
  /** The scope each snapshot was scanned with (absent: the whole context). */
  const scopes = new Map<string, string[] | undefined>();
  /** Set once the engine asked for more than the Dockerfile names: sync whole contexts from then on. */
  let wholeContext = false;
  let scanScopeKey = '';
  const images = new Map<string, { imageSize: number; diffIds: string[] }>();
  // What the agent synced is not in this process's scan: the first sync here walks afresh and
  // diffs against the base the builder acknowledged last (the agent keeps it on disk too).
  opts.agent?.onFallback(() => {
    scan = undefined;
    dirty.clear();
    baseFor = '';
  });

  const current = (): BuilderSession => {
    if (!session)
      throw new DepotError('builder_unreachable', `not connected to builder at ${opts.url}`, undefined);
    return session;
  };

  const remember = <V>(map: Map<string, V>, key: string, value: V) => {
    map.delete(key);
    map.set(key, value);
    if (map.size > REMEMBERED_SNAPSHOTS) map.delete(map.keys().next().value as string);
  };

  /** Same rule as `depot build`: a Dockerfile inside the context and in the scan goes by path. */
  async function smartPlan(text: string): Promise<SmartPlan | undefined> {
    if (!text) return undefined;
    const files = await contextFiles(opts.contextDir, dockerfilePath);
    const plan = await planSmartCache(text, files).catch(() => undefined);
    return plan?.rewrites.length ? plan : undefined;
  }

  async function dockerfileFor(s: ContextScan): Promise<DockerfileRef> {
    if (content || !dockerfilePath) return { path: '', content: content ?? Buffer.alloc(0) };
    const abs = await realpath(dockerfilePath).catch(() => dockerfilePath);
    const path = contextSync.dockerfileEntry(s.entries, s.contextDir, abs);
    return path ? { path, content: Buffer.alloc(0) } : { path: '', content: await readFile(abs) };
  }

  /** A change to an ignore file changes what every path means: rescan everything. */
  const touchesIgnoreRules = (paths: string[]) =>
    paths.some((p) => p === '.dockerignore' || p.endsWith('.dockerignore'));

  let saving: Promise<void> = Promise.resolve();

  /** What the Dockerfile reads now (it may have been edited), or undefined for the whole context. */
  async function scopeNow(): Promise<string[] | undefined> {
    if (wholeContext || !builderTakesScope(capabilities)) return undefined;
    const text = content
      ? content.toString('utf8')
      : await readFile(dockerfilePath!, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const abs = dockerfilePath ? await realpath(dockerfilePath).catch(() => dockerfilePath) : undefined;
    const root = await realpath(opts.contextDir).catch(() => opts.contextDir);
    return contextScope({ contextDir: root, dockerfileAbs: abs, buildArgs: opts.build.buildArgs }, text);
  }

  /** A file that changes while it is being sent is scanned again and the sync repeated (a few times). */
  async function syncOnce(
    changed: string[] | 'all',
    signal?: AbortSignal,
    onProgress?: (phase: SyncPhase, counts: ProgressCounts) => void,
  ) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await syncAttempt(attempt === 0 ? changed : [], signal, onProgress);
      } catch (err) {
        if (!(err instanceof ContentChangedError) || attempt >= 3 || !scan) throw err;
        dirty.add(relative(scan.contextDir, err.file).split(sep).join('/'));
      }
    }
  }

  /** The agent scans (its watcher knows what changed) and syncs; the Dockerfile is located from its answer. */
  async function syncByAgent(
    agent: DevAgent,
    signal?: AbortSignal,
    onProgress?: (phase: SyncPhase, counts: ProgressCounts) => void,
  ) {
    current();
    const scope = await scopeNow();
    const done = await agentSync(
      agent.paths,
      {
        op: 'sync',
        contextDir: resolve(opts.contextDir),
        dockerfile: dockerfilePath,
        scope,
        builder: agent.builder,
      },
      (m) => {
        if ('progress' in m) {
          const { phase, ...counts } = m.progress;
          onProgress?.(phase, counts);
        }
      },
      signal,
    );
    const df: DockerfileRef = done.dockerfilePath
      ? { path: done.dockerfilePath, content: Buffer.alloc(0) }
      : { path: '', content: content ?? (dockerfilePath ? await readFile(dockerfilePath) : Buffer.alloc(0)) };
    remember(dockerfiles, done.snapshotId, df);
    remember(scopes, done.snapshotId, done.scope);
    return { snapshotId: done.snapshotId, entries: done.entries, bytesSent: done.bytesSent };
  }

  async function syncAttempt(
    changed: string[] | 'all',
    signal?: AbortSignal,
    onProgress?: (phase: SyncPhase, counts: ProgressCounts) => void,
  ) {
    const agent = opts.agent;
    if (agent?.active && !content) {
      try {
        return await syncByAgent(agent, signal, onProgress);
      } catch (err) {
        if (!(err instanceof AgentUnavailable)) throw err;
        // The rest of the session syncs here (this sync included), from a fresh walk.
        agent.fallBack(err.message);
      }
    }
    const s = current();
    const id = builderId;
    const update = incrementalScan();
    if (changed !== 'all') for (const p of changed) dirty.add(p);
    const paths = [...dirty];
    const scope = await scopeNow();
    const scopeKey = JSON.stringify(scope ?? null);
    const fresh = changed === 'all' || !scan || scopeKey !== scanScopeKey || touchesIgnoreRules(paths);
    let next: ContextScan;
    if (scope) {
      // Only what the Dockerfile reads: walked afresh when a change touches it (it is small).
      const include = (scan?.scope ?? scope).map(compileInclude);
      next =
        fresh || !scan || paths.some((p) => touchesScope(include, p))
          ? await contextSync.scanContext({
              ...scanOpts,
              scope,
              onProgress: onProgress && ((c) => onProgress('hashing', c)),
            })
          : scan;
    } else {
      // A full scan can hash a whole tree (the first sync): that is worth reporting; an update is small.
      next =
        fresh || !update
          ? await contextSync.scanContext({
              ...scanOpts,
              onProgress: onProgress && ((c) => onProgress('hashing', c)),
            })
          : await update(scan!, paths, scanOpts);
    }
    scanScopeKey = scopeKey;
    scan = next;
    dirty.clear();
    if (baseFor !== id) {
      base = await loadSyncBase(id, project, next.contextDir);
      baseFor = id;
    }
    const df = await dockerfileFor(next);
    const out = await s.sync(next, base, signal, onProgress && ((c) => onProgress('uploading', c)));
    const acked = { snapshotId: out.snapshotId, entries: next.entries };
    // A reconnect to another builder meanwhile must not inherit this one's base.
    if (baseFor === id) base = acked;
    // Persisting the base (for the next process) is off the rebuild's critical path; writes stay in order.
    saving = saving.then(() => saveSyncBase(id, project, next.contextDir, acked)).catch(() => {});
    remember(dockerfiles, out.snapshotId, df);
    remember(scopes, out.snapshotId, next.scope);
    return { snapshotId: out.snapshotId, entries: out.entries, bytesSent: out.bytesSent };
  }

  async function hello(s: BuilderSession, signal?: AbortSignal) {
    const started = performance.now();
    const res = await s.hello(signal);
    return { res, ms: Math.max(0, Math.round(performance.now() - started)) };
  }

  return {
    async connect(signal) {
      session?.close();
      session = undefined;
      const s = createBuilderSession({
        url: opts.url,
        token: opts.token,
        project: opts.project,
        transport: opts.transport,
      });
      try {
        const { res, ms } = await hello(s, signal);
        session = s;
        builderId = res.builderId;
        capabilities = res.capabilities;
        return {
          builderId: res.builderId,
          platform: opts.build.platform || res.platforms[0] || '',
          latencyMs: ms,
        };
      } catch (err) {
        s.close();
        throw err;
      }
    },

    async ping(signal) {
      const s = current();
      const timeout = AbortSignal.timeout(pingTimeoutMs);
      const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
      try {
        return (await hello(s, both)).ms;
      } catch (err) {
        if (timeout.aborted && !signal?.aborted)
          throw new DepotError(
            'builder_unreachable',
            `builder at ${opts.url} did not answer within ${pingTimeoutMs} ms`,
            undefined,
            { cause: err },
          );
        throw err;
      }
    },

    sync(changed, signal, onProgress) {
      const run = syncQueue.then(() => syncOnce(changed, signal, onProgress));
      syncQueue = run.catch(() => {});
      return run;
    },

    async *build(snapshotId, buildId, signal) {
      const finished = (error: string, errorCode: string): BuildEvent => ({
        type: 'build/finished',
        timeMs: Date.now(),
        ok: false,
        imageId: '',
        error,
        errorCode,
      });
      let df = dockerfiles.get(snapshotId);
      let relay: SshRelay | undefined;
      try {
        const s = current();
        // A reconnect may have reached a builder that cannot serve --secret/--ssh: a failed build.
        requireBuildCapabilities({ builderId, capabilities }, needs);
        if (!df) {
          if (!scan) throw new DepotError('sync_failed', `snapshot ${snapshotId} was not synced here`);
          df = await dockerfileFor(scan);
        }
        const dfText = async (ref: DockerfileRef) =>
          ref.content.length
            ? ref.content.toString('utf8')
            : await readFile(join(opts.contextDir, ref.path), 'utf8').catch(() => '');
        const registryAuth = opts.registryAuth ? await opts.registryAuth(await dfText(df)) : {};
        // The smart cache's plan of this build's Dockerfile over the context as it is now.
        const smart = opts.smartCache ? await smartPlan(await dfText(df)) : undefined;
        const mark = smart ? smartReuseWatcher(smart.rewrites) : undefined;
        yield {
          type: 'build/defined',
          timeMs: Date.now(),
          dockerfile: smart ? smart.dockerfile : await dfText(df),
          target: opts.build.target,
        };
        let done = false;
        let id = snapshotId;
        let attemptId = buildId;
        for (let attempt = 0; attempt < 2 && !done; attempt++) {
          if (attempt > 0) {
            // The engine asked for context the Dockerfile does not name (a base image's ONBUILD
            // COPY): from now on this session syncs the whole context.
            wholeContext = true;
            const whole = syncQueue.then(() => syncOnce('all', signal));
            syncQueue = whole.catch(() => {});
            id = (await whole).snapshotId;
            df = dockerfiles.get(id) ?? df;
            attemptId = `${buildId}-whole`;
          }
          const scope = scopes.get(id);
          // The agent relay is open before Build asks for it, and ends with the build.
          await relay?.close();
          relay = sshIds.length ? s.forwardSsh(attemptId, ssh) : undefined;
          for await (const ev of s.build(
            {
              snapshotId: id,
              dockerfilePath: df.path,
              dockerfileContent: smart ? Buffer.from(smart.dockerfile) : df.content,
              buildArgs: opts.build.buildArgs,
              target: opts.build.target,
              platform: opts.build.platform,
              tags: opts.build.tags,
              noCache: opts.build.noCache,
              pull: opts.build.pull,
              labels: opts.build.labels,
              buildId: attemptId,
              registryAuth,
              secrets,
              sshIds,
              engineOptions: opts.build.engineOptions,
              // The dev loop loads every good build.
              load: true,
              contextScoped: scope !== undefined,
              contextScope: scope ?? [],
            },
            signal,
          )) {
            if (scope && ev.result && !ev.result.ok && ev.result.errorCode === CONTEXT_INCOMPLETE) break;
            const e = wireToEvent(ev);
            if (!e) continue;
            if (e.type === 'build/finished') {
              done = true;
              if (e.ok)
                remember(images, e.imageId, { imageSize: e.imageSize ?? 0, diffIds: e.diffIds ?? [] });
              else if (relay?.error && e.error)
                e.error = `${e.error} (the ssh agent relay failed: ${relay.error.message})`;
            }
            yield e;
            const reused = mark?.(e);
            if (reused) yield reused;
          }
        }
        if (!done) {
          if (signal.aborted) yield finished('build cancelled', 'cancelled');
          else yield finished('build ended without a result', 'builder_error');
        }
      } catch (err) {
        // A failed build is state, not an exception: the loop shows it and goes on.
        if (signal.aborted) yield finished('build cancelled', 'cancelled');
        else {
          const e = err instanceof DepotError ? err : undefined;
          yield finished(e?.message ?? String((err as Error)?.message ?? err), e?.code ?? 'builder_error');
        }
      } finally {
        await relay?.close();
      }
    },

    async load(imageId, signal, onProgress) {
      const known = images.get(imageId);
      if (opts.isEmbedded) {
        // The embedded builder builds in the local engine: the image is there already.
        await opts.localEngine.tag(imageId, opts.build.tags);
        return { bytes: 0, imageSize: known?.imageSize ?? 0 };
      }
      const r = await loadImage(
        current(),
        opts.localEngine,
        { imageId, imageSize: known?.imageSize, diffIds: known?.diffIds },
        opts.build.tags,
        signal ?? new AbortController().signal,
        onProgress &&
          ((bytes, bytesTotal) =>
            onProgress({ files: 0, filesTotal: 0, bytes, bytesTotal: Math.max(bytes, bytesTotal) })),
      );
      return { bytes: r.bytes, imageSize: r.imageSize };
    },

    async close() {
      session?.close();
      session = undefined;
      await saving;
    },
  };
}
