/**
 * A minimal gRPC server over one HTTP/2 connection (node:http2), for the services a BuildKit
 * session serves. Why not @grpc/grpc-js: it costs ~24 µs per streamed message here, and a build of
 * a 20k-path context streams 20k STAT packets — half a second per build. Writing the framed
 * messages ourselves lets many packets share one HTTP/2 write.
 *
 * gRPC over HTTP/2: a request is a stream with `:path` /package.Service/Method; each message is
 * framed as 1 byte (compressed: 0) + 4 bytes big-endian length + bytes; the response is headers
 * (`:status` 200, `content-type: application/grpc`), framed messages, and trailers carrying
 * `grpc-status` (0 = OK) and `grpc-message`.
 */
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';

/** gRPC status codes used here. */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
} as const;

/** Request metadata: lower-case header names, each with its values. */
export type Metadata = ReadonlyMap<string, string[]>;

/** One call of a streaming method. */
export interface StreamCall {
  readonly metadata: Metadata;
  /** Sends messages in one HTTP/2 write; false when the stream wants the caller to wait for drain. */
  send(...messages: Buffer[]): boolean;
  /** Resolves when the stream takes more data (or has closed). */
  drained(): Promise<void>;
  /** Ends the call with OK. */
  end(): void;
  /** Ends the call with an error status. */
  fail(code: number, message: string): void;
  /** True once the call ended, either way. */
  readonly closed: boolean;
  onMessage(cb: (msg: Buffer) => void): void;
  /** Stops reading the peer's messages (HTTP/2 flow control holds the peer back) until resume(). */
  pause(): void;
  resume(): void;
  /** The client finished sending. */
  onHalfClose(cb: () => void): void;
  /** The stream is gone (ended, reset, connection lost). */
  onClose(cb: () => void): void;
}

export type UnaryHandler = (req: Buffer, metadata: Metadata) => Promise<Buffer>;
export type StreamHandler = (call: StreamCall) => void;

/** An error a unary handler throws to answer with a gRPC status. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Handlers {
  unary?: Record<string, UnaryHandler>;
  stream?: Record<string, StreamHandler>;
}

/** Frames one message. */
function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

/** Splits incoming bytes into messages. */
function deframer(onMessage: (m: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 5) {
      if (pending[0] !== 0)
        throw new GrpcError(Status.UNIMPLEMENTED, 'compressed messages are not supported');
      const len = pending.readUInt32BE(1);
      if (pending.length < 5 + len) break;
      const msg = pending.subarray(5, 5 + len);
      pending = pending.subarray(5 + len);
      onMessage(msg);
    }
  };
}

function metadataOf(headers: http2.IncomingHttpHeaders): Metadata {
  const md = new Map<string, string[]>();
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(':') || v === undefined) continue;
    md.set(k, Array.isArray(v) ? v : [v]);
  }
  return md;
}

/** grpc-message: UTF-8 with bytes outside printable ASCII (and '%') percent-encoded. */
function grpcMessage(text: string): string {
  let out = '';
  for (const b of Buffer.from(text)) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function serveStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, h: Handlers): void {
  const path = String(headers[':path'] ?? '');
  let trailers: http2.OutgoingHttpHeaders = { 'grpc-status': String(Status.OK) };
  let closed = false;
  const closeCbs: Array<() => void> = [];
  stream.on('close', () => {
    closed = true;
    for (const cb of closeCbs) cb();
  });
  stream.on('error', () => undefined);
  stream.on('wantTrailers', () => stream.sendTrailers(trailers));
  const respond = () => {
    if (!stream.headersSent)
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  };
  const finish = (code: number, message = '') => {
    if (closed || stream.writableEnded) return;
    trailers = { 'grpc-status': String(code), ...(message ? { 'grpc-message': grpcMessage(message) } : {}) };
    if (!stream.headersSent && code !== Status.OK) {
      // Trailers-only response.
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', ...trailers },
        { endStream: true },
      );
      return;
    }
    respond();
    stream.end();
  };
  const md = metadataOf(headers);

  const unary = h.unary?.[path];
  if (unary) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      let req: Buffer | undefined;
      try {
        deframer((m) => {
          req ??= m;
        })(Buffer.concat(chunks));
      } catch (err) {
        finish((err as GrpcError).code ?? Status.INVALID_ARGUMENT, (err as Error).message);
        return;
      }
      unary(req ?? Buffer.alloc(0), md).then(
        (res) => {
          if (closed) return;
          respond();
          stream.write(frame(res));
          finish(Status.OK);
        },
        (err: unknown) =>
          finish(err instanceof GrpcError ? err.code : Status.UNKNOWN, (err as Error).message ?? String(err)),
      );
    });
    return;
  }

  const handler = h.stream?.[path];
  if (!handler) {
    stream.resume();
    finish(Status.UNIMPLEMENTED, `unknown method ${path}`);
    return;
  }
  const messageCbs: Array<(m: Buffer) => void> = [];
  const halfCloseCbs: Array<() => void> = [];
  const call: StreamCall = {
    metadata: md,
    get closed() {
      return closed || stream.writableEnded;
    },
    send(...messages) {
      if (closed || stream.writableEnded) return true;
      respond();
      return stream.write(messages.length === 1 ? frame(messages[0]!) : Buffer.concat(messages.map(frame)));
    },
    drained() {
      return new Promise((resolve) => {
        if (closed) return resolve();
        const done = () => {
          stream.off('drain', done);
          stream.off('close', done);
          resolve();
        };
        stream.on('drain', done);
        stream.on('close', done);
      });
    },
    end: () => finish(Status.OK),
    fail: (code, message) => finish(code, message),
    onMessage: (cb) => messageCbs.push(cb),
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    onHalfClose: (cb) => halfCloseCbs.push(cb),
    onClose: (cb) => closeCbs.push(cb),
  };
  const feed = deframer((m) => {
    for (const cb of messageCbs) cb(m);
  });
  stream.on('data', (c: Buffer) => {
    try {
      feed(c);
    } catch (err) {
      finish((err as GrpcError).code ?? Status.INVALID_ARGUMENT, (err as Error).message);
    }
  });
  stream.on('end', () => {
    for (const cb of halfCloseCbs) cb();
  });
  respond();
  handler(call);
}

/** Serves gRPC on one connection (whose peer speaks HTTP/2 first); returns a closer. */
export function serveConnection(socket: Duplex, handlers: Handlers): { close(): void } {
  const server = http2.createServer({ settings: { initialWindowSize: 4 * 1024 * 1024 } });
  server.setTimeout(0);
  server.on('stream', (stream, headers) => serveStream(stream, headers, handlers));
  server.on('sessionError', () => undefined);
  server.emit('connection', socket);
  return {
    close() {
      socket.destroy();
      server.close();
    },
  };
}
