import type http from 'node:http';
import { Transform } from 'node:stream';
import {
  createEngineApi,
  DEFAULT_ENGINE_HOST,
  type EngineApi,
  errorMessage,
  readBody,
} from '../engine-api/index.js';
import { chainIds as chainIdsOf } from '../protocol/index.js';
import { parseImageRef } from './docker-host.js';
import { LocalEngineError } from './errors.js';

/** The developer's own Docker engine: what layers it has, loading images into it, tagging them. */
export interface LocalEngine {
  host: string;
  /** Resolves when the engine answers; throws LocalEngineError('engine_unreachable') otherwise. */
  ping(): Promise<void>;
  /** Which image store the engine uses; `containerd` needs every layer in a load. */
  imageStore(): Promise<'graphdriver' | 'containerd'>;
  /** Chain ids of every layer of every local image (lists and inspects every image: slow on a full engine). */
  chainIds(): Promise<Set<string>>;
  /**
   * Which chain ids of the image with `diffIds` the engine holds now. An image known from an
   * earlier call, a load, or named by `hints` (the tags about to be moved) that shares layers with
   * it is checked with one inspect: an image that exists holds its layers. Only when none does is
   * every image listed, as chainIds() does. May miss layers held only by images it does not know
   * (they are then sent again), never claims one the engine lacks.
   */
  heldChainIds(diffIds: readonly string[], hints?: readonly string[]): Promise<Set<string>>;
  /** Records that the engine now holds image `id` with these diff ids (after a load). */
  remember(id: string, diffIds: readonly string[]): void;
  /** Whether the engine has an image by id or reference. */
  hasImage(id: string): Promise<boolean>;
  /** Loads a docker-archive (`docker load`); resolves with the bytes sent, throws on in-stream errors. */
  load(archive: NodeJS.ReadableStream, onBytes?: (bytes: number) => void): Promise<{ bytes: number }>;
  /** Tags an image with each of `tags` (`name[:tag]`, `registry:5000/name`); digests are refused. */
  tag(imageId: string, tags: string[]): Promise<void>;
}

const INSPECT_CONCURRENCY = 8;
// Known images checked before giving up on them and listing the engine: each check is one inspect.
const CANDIDATE_CHECKS = 4;

/** The Engine API client of the local engine at `host`: failures are LocalEngineErrors naming it. */
export function localEngineApi(host: string): EngineApi {
  return createEngineApi(host, { errorType: LocalEngineError, name: 'the local Docker engine' });
}

/** Connects to DOCKER_HOST, else unix:///var/run/docker.sock (lazily: no I/O until a call). */
export function createLocalEngine(opts?: { host?: string }): LocalEngine {
  const host = opts?.host || process.env.DOCKER_HOST || DEFAULT_ENGINE_HOST;
  const api = localEngineApi(host);
  // Image ids are content addresses, so an image's layers never change: cache them across calls.
  const layersByImage = new Map<string, string[]>();

  const json = <T>(method: string, path: string, what: string, allow404 = false): Promise<T | undefined> =>
    api.json<T>({ method, path, allow: allow404 ? [404] : undefined }, what);

  const engine: LocalEngine = {
    host,
    ping: () => api.ping(),
    async imageStore() {
      const info = await json<{ DriverStatus?: Array<[string, string]> | null }>(
        'GET',
        '/info',
        'engine info',
      );
      const containerd = (info?.DriverStatus ?? []).some(
        ([k, v]) => k === 'driver-type' && v === 'io.containerd.snapshotter.v1',
      );
      return containerd ? 'containerd' : 'graphdriver';
    },
    async chainIds() {
      const images = (await json<Array<{ Id: string }>>('GET', '/images/json?all=1', 'image list')) ?? [];
      const out = new Set<string>();
      const todo = images.map((i) => i.Id).filter((id) => !layersByImage.has(id));
      const worker = async () => {
        for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
          const img = await json<{ RootFS?: { Layers?: string[] } }>(
            'GET',
            `/images/${encodeURI(id)}/json`,
            `inspect of image ${id}`,
            true,
          );
          // An image removed meanwhile has no layers to offer.
          layersByImage.set(id, chainIdsOf(img?.RootFS?.Layers ?? []));
        }
      };
      await Promise.all(Array.from({ length: INSPECT_CONCURRENCY }, worker));
      const live = new Set(images.map((i) => i.Id));
      for (const [id, chains] of layersByImage) {
        if (!live.has(id)) layersByImage.delete(id);
        else for (const c of chains) out.add(c);
      }
      return out;
    },
    async heldChainIds(diffIds, hints = []) {
      const wanted = chainIdsOf(diffIds);
      if (wanted.length === 0) return new Set();
      const inspect = async (ref: string): Promise<string[] | undefined> => {
        const img = await json<{ Id?: string; RootFS?: { Layers?: string[] } }>(
          'GET',
          `/images/${encodeURI(ref)}/json`,
          `inspect of image ${ref}`,
          true,
        );
        if (!img?.Id) return undefined;
        const chains = chainIdsOf(img.RootFS?.Layers ?? []);
        layersByImage.set(img.Id, chains);
        return chains;
      };
      let best = 0;
      // A name that does not parse names no image: it only gives no hint.
      const hinted = await Promise.all(hints.map((h) => inspect(h).catch(() => undefined)));
      for (const chains of hinted) if (chains) best = Math.max(best, sharedPrefix(chains, wanted));
      const ranked = [...layersByImage]
        .map(([id, chains]) => ({ id, n: sharedPrefix(chains, wanted) }))
        .filter((c) => c.n > best)
        .sort((a, b) => b.n - a.n)
        .slice(0, CANDIDATE_CHECKS);
      for (const c of ranked) {
        // Known, but perhaps removed since: only an image that exists now vouches for its layers.
        if (await inspect(c.id)) {
          best = c.n;
          break;
        }
        layersByImage.delete(c.id);
      }
      if (best > 0) return new Set(wanted.slice(0, best));
      const all = await engine.chainIds();
      return new Set(wanted.filter((c) => all.has(c)));
    },
    remember(id, diffIds) {
      layersByImage.set(id, chainIdsOf(diffIds));
    },
    async hasImage(id) {
      return (
        (await json('GET', `/images/${encodeURI(id)}/json`, `inspect of image ${id}`, true)) !== undefined
      );
    },
    async load(archive, onBytes) {
      let bytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          onBytes?.(bytes);
          cb(null, chunk);
        },
      });
      archive.on('error', (err: Error) => counter.destroy(err));
      archive.pipe(counter);
      let archiveError: Error | undefined;
      counter.on('error', (err: Error) => {
        archiveError = err;
      });
      let res: http.IncomingMessage;
      try {
        res = await api.request({
          method: 'POST',
          path: '/images/load?quiet=1',
          headers: { 'Content-Type': 'application/x-tar' },
          body: counter,
        });
      } catch (err) {
        if (archiveError)
          throw new LocalEngineError('load_failed', `image load failed: ${archiveError.message}`, {
            cause: archiveError,
          });
        throw api.unreachable(err);
      }
      let body: Buffer;
      try {
        body = await readBody(res);
      } catch (err) {
        const cause = archiveError ?? err;
        throw new LocalEngineError('load_failed', `image load failed: ${(cause as Error).message}`, {
          cause,
        });
      }
      if (archiveError)
        throw new LocalEngineError('load_failed', `image load failed: ${archiveError.message}`, {
          cause: archiveError,
        });
      if ((res.statusCode ?? 500) >= 400)
        throw new LocalEngineError('load_failed', `image load failed: ${errorMessage(body, res.statusCode)}`);
      const inStream = loadStreamError(body);
      if (inStream) throw new LocalEngineError('load_failed', `image load failed: ${inStream}`);
      return { bytes };
    },
    async tag(imageId, tags) {
      const refs = tags.map(parseImageRef);
      for (const { repo, tag } of refs) {
        const q = new URLSearchParams({ repo, tag });
        await json('POST', `/images/${encodeURI(imageId)}/tag?${q}`, `tag of ${imageId} as ${repo}:${tag}`);
      }
    },
  };
  return engine;
}

/** How many leading entries two chain-id lists share (a chain id names its whole prefix). */
function sharedPrefix(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** The first error of a `docker load` JSON-lines answer, if any (exported for tests). */
export function loadStreamError(body: Buffer): string | undefined {
  for (const line of body.toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
      if (j.errorDetail || j.error) return j.errorDetail?.message || j.error || 'unknown error';
    } catch {
      // not JSON: ignore
    }
  }
  return undefined;
}
