import http from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { EngineError } from './types.js';

/** How to reach dockerd: a unix socket or host:port (plain HTTP). */
export interface DockerEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

/** Parses `unix:///path`, `/path`, `tcp://host:port` or `http://host:port`. */
export function parseEngineHost(s: string): DockerEndpoint {
  if (s.startsWith('unix://')) {
    const socketPath = s.slice('unix://'.length);
    if (!socketPath)
      throw new EngineError('invalid_host', `invalid docker host ${JSON.stringify(s)}: empty socket path`);
    return { socketPath };
  }
  if (s.startsWith('/')) return { socketPath: s };
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(s);
  if (!m) throw new EngineError('invalid_host', `invalid docker host ${JSON.stringify(s)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 2375 };
}

/** Pins the API version so behaviour does not drift with newer engines. */
export const API_PREFIX = '/v1.41';

export interface DockerRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: NodeJS.ReadableStream | Buffer;
  signal?: AbortSignal;
  /** Response timeout for requests that should be quick; 0 for none. */
  timeoutMs?: number;
}

/**
 * Connections to the engine never time out on their own: Node's global agent drops a socket after
 * 5 s without data, which would cut a build stream during any quiet step longer than that.
 */
export const engineAgent = new http.Agent({ keepAlive: true });

/** Sends one request and resolves with the response once headers arrive; rejects on connection failure. */
export function dockerRequest(ep: DockerEndpoint, r: DockerRequest): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: ep.socketPath,
      host: ep.host,
      port: ep.port,
      method: r.method,
      path: API_PREFIX + r.path,
      headers: { Host: 'docker', ...r.headers },
      agent: engineAgent,
      signal: r.signal,
      timeout: r.timeoutMs,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${r.timeoutMs} ms`)));
    req.on('error', (err) => reject(err));
    req.on('response', resolve);
    if (r.body === undefined) req.end();
    else if (Buffer.isBuffer(r.body)) req.end(r.body);
    else {
      const body = r.body;
      body.on('error', (err: Error) => req.destroy(err));
      body.pipe(req);
    }
  });
}

/** Reads a whole (small) response body. */
export async function readBody(res: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** The `message` of a JSON error body, else the body text. */
export function errorMessage(body: Buffer, status: number | undefined): string {
  const text = body.toString('utf8').trim();
  try {
    const j = JSON.parse(text) as { message?: unknown };
    if (typeof j.message === 'string') return j.message;
  } catch {
    // not JSON: use the text
  }
  return text || `engine answered HTTP ${status}`;
}

/** GETs/POSTs and parses a JSON answer; `undefined` on 404 when `allow404`. */
export async function dockerJson<T>(
  ep: DockerEndpoint,
  r: DockerRequest & { allow404?: boolean },
  what: string,
): Promise<T | undefined> {
  let res: http.IncomingMessage;
  try {
    res = await dockerRequest(ep, { timeoutMs: 30_000, ...r });
  } catch (err) {
    throw unreachable(ep, err);
  }
  const body = await readBody(res);
  if (res.statusCode === 404 && r.allow404) return undefined;
  if ((res.statusCode ?? 500) >= 400)
    throw new EngineError('engine_error', `${what} failed: ${errorMessage(body, res.statusCode)}`);
  return (body.length ? JSON.parse(body.toString('utf8')) : undefined) as T;
}

/** Wraps a connection failure. */
export function unreachable(ep: DockerEndpoint, err: unknown): EngineError {
  const where = ep.socketPath ? `unix://${ep.socketPath}` : `tcp://${ep.host}:${ep.port}`;
  const why = err instanceof Error ? err.message : String(err);
  return new EngineError('engine_unreachable', `cannot reach the docker engine at ${where}: ${why}`, {
    cause: err,
  });
}

/** Splits a byte stream into lines (without the newline). */
export async function* lines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of stream) {
    rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let i = rest.indexOf('\n');
    while (i >= 0) {
      const line = rest.slice(0, i).trim();
      rest = rest.slice(i + 1);
      if (line) yield line;
      i = rest.indexOf('\n');
    }
  }
  rest += decoder.end();
  if (rest.trim()) yield rest.trim();
}
