import http from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { type EngineEndpoint, formatEngineEndpoint, parseEngineHost } from './endpoint.js';
import { EngineApiError, type EngineErrorType } from './errors.js';

/** Pins the API version so behaviour does not drift with newer engines. */
export const API_VERSION_PREFIX = '/v1.41';

/**
 * Connections to the engine never time out on their own: Node's global agent drops a socket after
 * 5 s without data, which would cut a build stream, an image load or a log follow during any quiet
 * spell longer than that.
 */
export const engineAgent = new http.Agent({ keepAlive: true });

/** One Engine API call; `path` is below the pinned version (`/images/json`). */
export interface EngineRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: NodeJS.ReadableStream | Buffer;
  signal?: AbortSignal;
  /** Response timeout for requests that should be quick; 0 or absent for none. */
  timeoutMs?: number;
}

/** The http.request options of an Engine API call (for callers that need the raw request, e.g. an upgrade). */
export function engineRequestOptions(
  ep: EngineEndpoint,
  r: Pick<EngineRequest, 'method' | 'path' | 'signal' | 'timeoutMs'> & { headers?: http.OutgoingHttpHeaders },
): http.RequestOptions {
  return {
    socketPath: ep.socketPath,
    host: ep.host,
    port: ep.port,
    method: r.method,
    path: API_VERSION_PREFIX + r.path,
    headers: { Host: 'docker', ...r.headers },
    agent: engineAgent,
    signal: r.signal,
    timeout: r.timeoutMs || undefined,
  };
}

/** Sends one request and resolves with the response once headers arrive; rejects (unwrapped) on connection failure. */
export function sendEngineRequest(ep: EngineEndpoint, r: EngineRequest): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(engineRequestOptions(ep, r));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${r.timeoutMs} ms`)));
    req.on('error', reject);
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
export async function readBody(res: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/** The `message` of a JSON error body, else the body text, else the HTTP status. */
export function errorMessage(body: Buffer, status: number | undefined): string {
  const text = new StringDecoder('utf8').end(body).trim();
  try {
    const j = JSON.parse(text) as { message?: unknown };
    if (typeof j.message === 'string') return j.message;
  } catch {
    // not JSON: use the text
  }
  return text || `engine answered HTTP ${status}`;
}

/** Splits a byte stream into trimmed, non-empty lines (the JSON-lines answers of build, push, load). */
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

/**
 * Splits the multiplexed stream of a container without a TTY (logs, attach): frames of an 8-byte
 * header (stream 1 = stdout, 2 = stderr; big-endian payload length) and the payload.
 */
export async function* demuxStream(
  stream: AsyncIterable<Buffer | string>,
): AsyncGenerator<{ stream: 'stdout' | 'stderr'; data: Buffer }> {
  let buf = Buffer.alloc(0);
  for await (const chunk of stream) {
    buf = Buffer.concat([buf, typeof chunk === 'string' ? Buffer.from(chunk) : chunk]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const data = buf.subarray(8, 8 + size);
      const kind = buf[0] === 2 ? 'stderr' : 'stdout';
      buf = buf.subarray(8 + size);
      if (data.length) yield { stream: kind, data };
    }
  }
}

/** How a caller wants failures: its own error type, and how messages name the engine. */
export interface EngineApiOptions {
  /** Default EngineApiError. */
  errorType?: EngineErrorType;
  /** Default 'the docker engine'. */
  name?: string;
}

/** A JSON call: the request, and HTTP statuses that mean "nothing" (resolve undefined) rather than failure. */
export type EngineJsonRequest = EngineRequest & { allow?: readonly number[] };

/** One Docker engine reached over the Engine API; errors carry stable codes (see EngineApiError). */
export interface EngineApi {
  readonly endpoint: EngineEndpoint;
  /** `unix:///path` or `tcp://host:port`, as messages name it. */
  readonly address: string;
  /** The raw response; rejects with the connection error unwrapped (see `unreachable`). */
  request(r: EngineRequest): Promise<http.IncomingMessage>;
  /**
   * The parsed JSON answer (undefined for an empty body or an `allow`ed status); 30 s timeout
   * unless given. Throws engine_unreachable, or engine_error `<what> failed: <engine's message>`.
   */
  json<T>(r: EngineJsonRequest, what: string): Promise<T | undefined>;
  /** Resolves when the engine answers `GET /_ping` within 10 s; throws engine_unreachable otherwise. */
  ping(): Promise<void>;
  /** A connection failure as `engine_unreachable`: `cannot reach <name> at <address>: <why>`. */
  unreachable(err: unknown): Error;
  /** An error of the caller's type. */
  error(code: string, message: string, cause?: unknown): Error;
}

/** A client for one engine address (parsed now: a bad one throws invalid_host; no I/O until a call). */
export function createEngineApi(host: string | EngineEndpoint, opts: EngineApiOptions = {}): EngineApi {
  const ErrorType = opts.errorType ?? EngineApiError;
  const name = opts.name ?? 'the docker engine';
  const endpoint = typeof host === 'string' ? parseEngineHost(host, ErrorType) : host;
  const address = formatEngineEndpoint(endpoint);
  const error = (code: string, message: string, cause?: unknown) =>
    new ErrorType(code, message, cause === undefined ? undefined : { cause });
  const unreachable = (err: unknown) =>
    error(
      'engine_unreachable',
      `cannot reach ${name} at ${address}: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  const request = (r: EngineRequest) => sendEngineRequest(endpoint, r);

  return {
    endpoint,
    address,
    request,
    unreachable,
    error,
    async json<T>(r: EngineJsonRequest, what: string): Promise<T | undefined> {
      let res: http.IncomingMessage;
      try {
        res = await request({ timeoutMs: 30_000, ...r });
      } catch (err) {
        throw unreachable(err);
      }
      const body = await readBody(res);
      const status = res.statusCode ?? 500;
      if (r.allow?.includes(status)) return undefined;
      if (status >= 400) throw error('engine_error', `${what} failed: ${errorMessage(body, status)}`);
      return (body.length ? JSON.parse(body.toString('utf8')) : undefined) as T;
    },
    async ping() {
      let res: http.IncomingMessage;
      try {
        res = await request({ method: 'GET', path: '/_ping', timeoutMs: 10_000 });
      } catch (err) {
        throw unreachable(err);
      }
      const body = await readBody(res);
      if (res.statusCode !== 200) throw unreachable(new Error(errorMessage(body, res.statusCode)));
    },
  };
}
