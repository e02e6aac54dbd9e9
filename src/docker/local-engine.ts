import http from 'node:http';
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { chainIds as chainIdsOf } from '../protocol/index.js';
import {
  DEFAULT_DOCKER_HOST,
  type DockerHostAddress,
  parseDockerHost,
  parseImageRef,
} from './docker-host.js';
import { LocalEngineError } from './errors.js';

const engineAgent = new http.Agent({ keepAlive: true });

/** The developer's own Docker engine: what layers it has, loading images into it, tagging them. */
export interface LocalEngine {
  host: string;
  /** Resolves when the engine answers; throws LocalEngineError('engine_unreachable') otherwise. */
  ping(): Promise<void>;
  /** Which image store the engine uses; `containerd` needs every layer in a load. */
  imageStore(): Promise<'graphdriver' | 'containerd'>;
  /** Chain ids of every layer of every local image. */
  chainIds(): Promise<Set<string>>;
  /** Whether the engine has an image by id or reference. */
  hasImage(id: string): Promise<boolean>;
  /** Loads a docker-archive (`docker load`); resolves with the bytes sent, throws on in-stream errors. */
  load(archive: NodeJS.ReadableStream, onBytes?: (bytes: number) => void): Promise<{ bytes: number }>;
  /** Tags an image with each of `tags` (`name[:tag]`, `registry:5000/name`); digests are refused. */
  tag(imageId: string, tags: string[]): Promise<void>;
}

const API = '/v1.41';
const INSPECT_CONCURRENCY = 8;

/** Connects to DOCKER_HOST, else unix:///var/run/docker.sock (lazily: no I/O until a call). */
export function createLocalEngine(opts?: { host?: string }): LocalEngine {
  const host = opts?.host || process.env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  const addr = parseDockerHost(host);
  // Image ids are content addresses, so an image's layers never change: cache them across calls.
  const layersByImage = new Map<string, string[]>();

  const fail = (err: unknown): LocalEngineError =>
    err instanceof LocalEngineError
      ? err
      : new LocalEngineError(
          'engine_unreachable',
          `cannot reach the local Docker engine at ${host}: ${(err as Error).message}`,
          { cause: err },
        );

  const json = async <T>(
    method: string,
    path: string,
    what: string,
    allow404 = false,
  ): Promise<T | undefined> => {
    let res: http.IncomingMessage;
    try {
      res = await send(addr, method, path, undefined, 30_000);
    } catch (err) {
      throw fail(err);
    }
    const body = await readAll(res);
    if (res.statusCode === 404 && allow404) return undefined;
    if ((res.statusCode ?? 500) >= 400)
      throw new LocalEngineError('engine_error', `${what} failed: ${messageOf(body, res.statusCode)}`);
    return (body.length ? JSON.parse(body.toString('utf8')) : undefined) as T;
  };

  const engine: LocalEngine = {
    host,
    async ping() {
      let res: http.IncomingMessage;
      try {
        res = await send(addr, 'GET', '/_ping', undefined, 10_000);
      } catch (err) {
        throw fail(err);
      }
      const body = await readAll(res);
      if (res.statusCode !== 200)
        throw new LocalEngineError(
          'engine_unreachable',
          `cannot reach the local Docker engine at ${host}: ${messageOf(body, res.statusCode)}`,
        );
    },
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
        res = await send(addr, 'POST', '/images/load?quiet=1', counter, 0, {
          'Content-Type': 'application/x-tar',
        });
      } catch (err) {
        if (archiveError)
          throw new LocalEngineError('load_failed', `image load failed: ${archiveError.message}`, {
            cause: archiveError,
          });
        throw fail(err);
      }
      let body: Buffer;
      try {
        body = await readAll(res);
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
        throw new LocalEngineError('load_failed', `image load failed: ${messageOf(body, res.statusCode)}`);
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

function send(
  addr: DockerHostAddress,
  method: string,
  path: string,
  body: NodeJS.ReadableStream | undefined,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: addr.socketPath,
      host: addr.host,
      port: addr.port,
      method,
      path: API + path,
      headers: { Host: 'docker', ...headers },
      // Node's global agent drops a socket after 5 s without data; a long image load can be that quiet.
      agent: engineAgent,
      timeout: timeoutMs || undefined,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', resolve);
    if (body) {
      body.on('error', (err: Error) => req.destroy(err));
      body.pipe(req);
    } else req.end();
  });
}

async function readAll(res: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

function messageOf(body: Buffer, status: number | undefined): string {
  const text = new StringDecoder('utf8').end(body).trim();
  try {
    const j = JSON.parse(text) as { message?: unknown };
    if (typeof j.message === 'string') return j.message;
  } catch {
    // not JSON
  }
  return text || `engine answered HTTP ${status}`;
}
