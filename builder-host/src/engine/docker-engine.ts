import type http from 'node:http';
import { PassThrough } from 'node:stream';
import { createEngineApi, errorMessage, lines, readBody } from '../../../src/engine-api/index.js';
import { chainIds } from '../../../src/protocol/index.js';
import { splitTagReference } from '../../../src/registry/index.js';
import { buildStreamEvents } from './build-stream.js';
import { classifyBuildError } from './errors.js';
import { filterDockerArchive } from './export-archive.js';
import { createLayerIdCache } from './layer-cache.js';
import { pushTag } from './push.js';
import { type EngineSession, openSession } from './session/session.js';
import type { Engine, EngineBuildRequest, EngineEvent, EngineInfo, ExportSummary } from './types.js';
import { EngineError } from './types.js';

export interface DockerEngineOptions {
  /** unix:///path or tcp://host:port */
  host: string;
  /** Where the export keeps its v1 layer id → chain id map; in memory only when absent. */
  cacheDir?: string;
  /** Where layers are spooled during an export; default os.tmpdir(). */
  spoolDir?: string;
}

interface VersionAnswer {
  Version?: string;
  ApiVersion?: string;
  Os?: string;
  Arch?: string;
}
interface InfoAnswer {
  ID?: string;
  DriverStatus?: Array<[string, string]> | null;
}
interface ImageAnswer {
  Id?: string;
  Size?: number;
  RootFS?: { Layers?: string[] };
  Os?: string;
  Architecture?: string;
  Variant?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
}

interface HistoryAnswer {
  CreatedBy?: string;
  Size?: number;
}

const ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64' };

/** The query string of `POST /build` for a request (exported for tests). */
/** How long the engine's version and info answer for every caller. */
const INFO_TTL_MS = 30_000;

export function buildQuery(req: EngineBuildRequest, sessionId?: string): string {
  const q = new URLSearchParams();
  q.set('version', '2');
  q.set('buildid', req.buildId);
  if (sessionId) {
    q.set('remote', 'client-session');
    q.set('session', sessionId);
  }
  for (const t of req.tags) q.append('t', t);
  q.set('dockerfile', req.dockerfile);
  const o = req.options ?? {};
  // The engine reads BUILDKIT_INLINE_CACHE from the build args (what `--cache-to type=inline` is).
  q.set(
    'buildargs',
    JSON.stringify(o.inlineCache ? { ...req.buildArgs, BUILDKIT_INLINE_CACHE: '1' } : req.buildArgs),
  );
  if (o.network) q.set('networkmode', o.network);
  for (const h of o.addHosts ?? []) q.append('extrahosts', h);
  if (o.shmSize) q.set('shmsize', String(o.shmSize));
  if (o.ulimits?.length) q.set('ulimits', JSON.stringify(o.ulimits));
  if (o.cacheFrom?.length) q.set('cachefrom', JSON.stringify(o.cacheFrom));
  if (o.memory) q.set('memory', String(o.memory));
  if (o.memorySwap) q.set('memswap', String(o.memorySwap));
  if (o.cpuShares) q.set('cpushares', String(o.cpuShares));
  if (o.cpuPeriod) q.set('cpuperiod', String(o.cpuPeriod));
  if (o.cpuQuota) q.set('cpuquota', String(o.cpuQuota));
  if (o.cpusetCpus) q.set('cpusetcpus', o.cpusetCpus);
  if (o.cpusetMems) q.set('cpusetmems', o.cpusetMems);
  if (req.target) q.set('target', req.target);
  if (req.platform) q.set('platform', req.platform);
  if (req.noCache) q.set('nocache', '1');
  if (req.pull) q.set('pull', '1');
  q.set('labels', JSON.stringify(req.labels));
  q.set('rm', '1');
  q.set('forcerm', '1');
  // Engine API ≥ 1.40: the first output names BuildKit's exporter; its files go to the session.
  if (req.session?.output) q.set('outputs', JSON.stringify([{ Type: req.session.output.type, Attrs: {} }]));
  return q.toString();
}

/** Drives a dockerd (with BuildKit) through the Engine API. */
export function createDockerEngine(opts: DockerEngineOptions): Engine {
  const api = createEngineApi(opts.host, { errorType: EngineError });
  const running = new Map<string, AbortController>();
  const cache = createLayerIdCache(opts.cacheDir);

  const inspectImage: Engine['inspectImage'] = async (id) => {
    const j = await api.json<ImageAnswer>(
      { method: 'GET', path: `/images/${encodeURI(id)}/json`, allow: [404] },
      `inspect of image ${id}`,
    );
    if (!j) return undefined;
    const platform = j.Architecture
      ? [j.Os || 'linux', j.Architecture, ...(j.Variant ? [j.Variant] : [])].join('/')
      : '';
    return {
      id: j.Id ?? id,
      size: j.Size ?? 0,
      diffIds: j.RootFS?.Layers ?? [],
      platform,
      repoTags: j.RepoTags ?? [],
      repoDigests: j.RepoDigests ?? [],
    };
  };

  const imageHistory: Engine['imageHistory'] = async (id) => {
    const j = await api.json<HistoryAnswer[]>(
      { method: 'GET', path: `/images/${encodeURI(id)}/history`, allow: [404] },
      `history of image ${id}`,
    );
    if (!j) return undefined;
    return j.map((e) => ({ createdBy: e.CreatedBy ?? '', size: Math.max(0, e.Size ?? 0) }));
  };

  const cancel = async (buildId: string): Promise<void> => {
    running.get(buildId)?.abort();
    await api.json(
      { method: 'POST', path: `/build/cancel?id=${encodeURIComponent(buildId)}` },
      `cancel of build ${buildId}`,
    );
  };

  async function* build(req: EngineBuildRequest, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    if (signal.aborted) ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    running.set(req.buildId, ac);
    const cancelled = (): EngineEvent => ({
      type: 'result',
      ok: false,
      imageId: '',
      error: 'build cancelled',
      errorCode: 'cancelled',
    });
    let contextError: Error | undefined;
    req.context?.on('error', (err: Error) => {
      contextError = err;
    });
    // What a dropped engine connection means: the context (or session) failed, the build was
    // cancelled, or the engine is gone.
    const connectionLost = (err: unknown): EngineEvent => {
      if (contextError) return contextFailed(contextError);
      if (ac.signal.aborted) return cancelled();
      throw api.unreachable(err);
    };
    let session: EngineSession | undefined;
    let res: http.IncomingMessage;
    try {
      if (req.session) {
        try {
          session = await openSession(api, req.session);
          req.session.onOpen?.(session);
        } catch (err) {
          if (err instanceof EngineError && err.code === 'engine_unreachable') throw err;
          yield {
            type: 'result',
            ok: false,
            imageId: '',
            error: (err as Error).message,
            errorCode: 'build_failed',
          };
          return;
        }
        // A session that ends before the build does fails the build: BuildKit could not ask for
        // files, secrets or credentials any more.
        session.ended.then((why) => {
          if (!why || ac.signal.aborted) return;
          contextError = new SessionLostError(
            `the build session to the engine was lost mid-build: ${why.message}`,
          );
          ac.abort();
          cancel(req.buildId).catch(() => undefined);
        });
      }
      try {
        res = await api.request({
          method: 'POST',
          path: `/build?${buildQuery(req, session?.id)}`,
          headers: { 'Content-Type': 'application/x-tar' },
          body: session ? Buffer.alloc(0) : req.context,
          signal: ac.signal,
        });
      } catch (err) {
        yield connectionLost(err);
        return;
      }
      if ((res.statusCode ?? 500) >= 400) {
        const error = errorMessage(await readBody(res), res.statusCode);
        yield { type: 'result', ok: false, imageId: '', error, errorCode: classifyBuildError(error) };
        return;
      }
      try {
        for await (const ev of buildStreamEvents(lines(res), { image: !req.session?.output })) {
          if (ev.type === 'result' && !ev.ok && contextError) {
            yield contextFailed(contextError);
            return;
          }
          yield ev;
          if (ev.type === 'result') return;
        }
      } catch (err) {
        yield connectionLost(err);
        return;
      }
    } finally {
      session?.close();
      signal.removeEventListener('abort', onAbort);
      if (running.get(req.buildId) === ac) running.delete(req.buildId);
      // Dropping the connection is what stops the build; a consumer that stops early gets it too.
      ac.abort();
    }
  }

  const exportImage: Engine['exportImage'] = (imageId, haveChainIds, allLayers, signal) => {
    const out = new PassThrough();
    const summary = (async (): Promise<ExportSummary> => {
      const img = await inspectImage(imageId);
      if (!img) throw new EngineError('image_not_found', `image export failed: no image ${imageId}`);
      let res: http.IncomingMessage;
      try {
        res = await api.request({ method: 'GET', path: `/images/${encodeURI(img.id)}/get`, signal });
      } catch (err) {
        if (signal.aborted) throw new EngineError('cancelled', 'image export cancelled', { cause: err });
        throw api.unreachable(err);
      }
      if ((res.statusCode ?? 500) >= 400)
        throw new EngineError(
          'export_failed',
          `image export failed: ${errorMessage(await readBody(res), res.statusCode)}`,
        );
      const f = filterDockerArchive(res, {
        chainIds: chainIds(img.diffIds),
        diffIds: img.diffIds,
        have: haveChainIds,
        allLayers,
        cache,
        spoolDir: opts.spoolDir,
      });
      f.stream.on('error', (err: Error) => out.destroy(err));
      f.stream.pipe(out);
      const s = await f.summary;
      return { ...s, imageSize: img.size };
    })();
    summary.catch((err: unknown) => out.destroy(err as Error));
    return { stream: out, summary };
  };

  // Every Hello asks (and /info is one of the engine's slower answers: it counts containers and
  // images); what it tells changes only when the engine is replaced, which a failing call shows.
  let info: { at: number; answer: Promise<EngineInfo> } | undefined;
  async function readInfo(): Promise<EngineInfo> {
    const [v, i] = await Promise.all([
      api.json<VersionAnswer>({ method: 'GET', path: '/version' }, 'engine version'),
      api.json<InfoAnswer>({ method: 'GET', path: '/info' }, 'engine info'),
    ]);
    const os = v?.Os ?? 'linux';
    const arch = ARCH[v?.Arch ?? ''] ?? v?.Arch ?? 'amd64';
    const containerd = (i?.DriverStatus ?? []).some(
      ([k, val]) => k === 'driver-type' && val === 'io.containerd.snapshotter.v1',
    );
    return {
      version: v?.Version ?? '',
      apiVersion: v?.ApiVersion ?? '',
      os,
      arch,
      platform: arch === 'arm64' ? `${os}/arm64` : `${os}/${arch}`,
      imageStore: containerd ? 'containerd' : 'graphdriver',
      id: i?.ID ?? '',
    };
  }

  return {
    info(): Promise<EngineInfo> {
      if (!info || Date.now() - info.at > INFO_TTL_MS) {
        const answer = readInfo();
        info = { at: Date.now(), answer };
        answer.catch(() => {
          if (info?.answer === answer) info = undefined;
        });
      }
      return info.answer;
    },
    build,
    cancel,
    inspectImage,
    imageHistory,
    exportImage,
    pushImage: (ref, auth, signal, onProgress) => pushTag(api, ref, auth, signal, onProgress),
    async tagImage(id, tags) {
      for (const t of tags) {
        const { repository: repo, tag } = splitTagReference(t);
        const q = new URLSearchParams({ repo, tag }).toString();
        await api.json({ method: 'POST', path: `/images/${encodeURI(id)}/tag?${q}` }, `tagging ${t}`);
      }
    },
    async untagImage(ref) {
      // Removing a name the image has others for only untags; noprune keeps every layer.
      await api.json(
        { method: 'DELETE', path: `/images/${encodeURI(ref)}?noprune=1`, allow: [404] },
        `untagging ${ref}`,
      );
    },
  };
}

class SessionLostError extends Error {}

function contextFailed(err: Error): EngineEvent {
  return {
    type: 'result',
    ok: false,
    imageId: '',
    error: err.message,
    errorCode: err instanceof SessionLostError ? 'session_lost' : 'context_failed',
  };
}
