/**
 * A BuildKit session opened by the builder to its engine. The builder is the session's client:
 * it dials dockerd's `POST /session` with an h2c upgrade, and on that connection serves, as a gRPC
 * server, the services BuildKit calls back — health, the build's files (FileSync.DiffCopy, served
 * from the snapshot in the store), secrets, registry credentials and SSH agents.
 *
 * The services only need a duplex byte stream that speaks HTTP/2 (h2-grpc.ts): the same handlers
 * serve any other transport (a standalone buildkitd's Control.Session stream) without change.
 * Messages are encoded by hand (packet.ts); proto/buildkit/*.proto are the reference for them.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { type EngineApi, engineRequestOptions } from '../../../../src/engine-api/index.js';
import {
  type ContextEntry,
  coveredBy,
  type IncludePattern,
  resolveFollowPaths,
} from '../../../../src/protocol/index.js';
import { EngineError } from '../types.js';
import { type SessionOutput, serveFileSend } from './file-send.js';
import { buildView, type ViewEntry, type ViewFilter } from './fs-view.js';
import {
  GrpcError,
  type Handlers,
  type Metadata,
  Status,
  type StreamCall,
  serveConnection,
} from './h2-grpc.js';
import {
  decodeFields,
  decodePacket,
  encodeFields,
  encodePacket,
  encodeStat,
  encodeStatPacket,
  PACKET_DATA,
  PACKET_ERR,
  PACKET_FIN,
  PACKET_REQ,
  stringField,
} from './packet.js';

/** A directory the session serves by name ("context", "dockerfile"). */
export interface SessionDir {
  entries: readonly ContextEntry[];
  open(digest: string): NodeJS.ReadableStream;
  /**
   * The entries are only the paths these patterns take in (the client synced what the Dockerfile
   * reads): a DiffCopy asking for anything else fails, and `onIncomplete` hears of it.
   */
  scope?: readonly IncludePattern[];
}

/** Registry credentials BuildKit asks for by host. */
export interface SessionCredentials {
  username: string;
  /** Password, or an identity token when `username` is empty. */
  secret: string;
}

export interface SessionOptions {
  /** Shown by the engine; e.g. the project. */
  name: string;
  /** BuildKit keeps the received context per shared key: same key, only changed files move. */
  sharedKey: string;
  dirs: ReadonlyMap<string, SessionDir>;
  secrets?: ReadonlyMap<string, Buffer>;
  credentials?: (host: string) => SessionCredentials | undefined;
  /** SSH agents by id; `connect` opens one agent connection. */
  ssh?: { ids: readonly string[]; connect(id: string): Promise<Duplex> };
  /** Bytes of file content served for a directory, after each DiffCopy. */
  onTransfer?: (dir: string, bytes: number, files: number, ms: number) => void;
  /** The engine asked a scoped directory for `path`, which it does not hold. */
  onIncomplete?: (dir: string, path: string) => void;
  /** Where the engine's local or tar exporter sends the build's files (FileSend). */
  output?: SessionOutput;
  /** Called once the session is up (observers; tests use it to drop a session mid-build). */
  onOpen?: (session: EngineSession) => void;
}

export interface EngineSession {
  readonly id: string;
  /** Settles when the connection to the engine ends: with the reason, or undefined after close(). */
  readonly ended: Promise<Error | undefined>;
  /** Ends the session (idempotent). */
  close(): void;
  /** Drops the connection as a failure would: `ended` settles with `reason` (tests use it). */
  abort(reason: Error): void;
}

/** Chunk of file content per DATA packet (BuildKit accepts up to 4 MiB per message). */
const DATA_CHUNK = 1024 * 1024;
/** Files served at once per DiffCopy, as fsutil's own sender does. */
const SEND_WORKERS = 4;

function metaList(md: Metadata, key: string): string[] {
  const raw = md.get(key) ?? [];
  const encoded = (md.get(`${key}-encoded`) ?? []).length > 0;
  // A metadata value may carry several comma-separated entries.
  const list = raw.flatMap((v) => v.split(',').map((x) => x.trim())).filter(Boolean);
  return encoded ? list.map((x) => decodeURIComponent(x.replace(/\+/g, ' '))) : list;
}

/** A directory's view under one filter, with every STAT packet encoded once. */
interface EncodedView {
  view: ViewEntry[];
  packets: Buffer[];
}

// Builds of one snapshot share its entries array: their views are computed and encoded once.
const viewCache = new WeakMap<readonly ContextEntry[], Map<string, EncodedView>>();
const VIEWS_PER_DIR = 8;

function encodedView(entries: readonly ContextEntry[], filter: ViewFilter): EncodedView {
  const key = JSON.stringify(filter);
  let byFilter = viewCache.get(entries);
  const hit = byFilter?.get(key);
  if (hit) return hit;
  const view = buildView(entries, filter);
  const packets = view.map((e) => encodeStatPacket(encodeStat(e.stat)));
  const out = { view, packets };
  if (!byFilter) {
    byFilter = new Map();
    viewCache.set(entries, byFilter);
  }
  if (byFilter.size >= VIEWS_PER_DIR) byFilter.delete(byFilter.keys().next().value!);
  byFilter.set(key, out);
  return out;
}

/** STAT packets per HTTP/2 write. */
const STAT_BATCH = 512;

/** Serves one DiffCopy: every stat in walk order, then the content of each file asked for. */
/** The first path a DiffCopy of `filter` asks `dir` for that its scope does not hold, if any. */
export function outOfScope(dir: SessionDir, filter: ViewFilter): string | undefined {
  if (!dir.scope) return undefined;
  const scope = dir.scope;
  if (filter.includes.length === 0 && filter.followPaths.length === 0)
    return coveredBy(scope, '') ? undefined : '.';
  const byPath = new Map(dir.entries.map((e) => [e.path, e]));
  const asked = [...filter.includes, ...resolveFollowPaths((p) => byPath.get(p), filter.followPaths)];
  return asked.find((p) => !coveredBy(scope, p));
}

function serveDiffCopy(
  call: StreamCall,
  dirs: ReadonlyMap<string, SessionDir>,
  onTransfer: SessionOptions['onTransfer'],
  onIncomplete: SessionOptions['onIncomplete'],
): void {
  const name = metaList(call.metadata, 'dir-name')[0] ?? '';
  const dir = dirs.get(name);
  if (!dir) {
    call.fail(Status.NOT_FOUND, `no access allowed to dir "${name}"`);
    return;
  }
  const filter: ViewFilter = {
    includes: metaList(call.metadata, 'include-patterns'),
    excludes: metaList(call.metadata, 'exclude-patterns'),
    followPaths: metaList(call.metadata, 'followpaths'),
  };
  const missing = outOfScope(dir, filter);
  if (missing !== undefined) {
    onIncomplete?.(name, missing);
    call.fail(
      Status.FAILED_PRECONDITION,
      `the build reads ${JSON.stringify(missing)}, which was not synced: the context holds only what the Dockerfile names`,
    );
    return;
  }
  let encoded: EncodedView;
  try {
    encoded = encodedView(dir.entries, filter);
  } catch (err) {
    call.fail(Status.INVALID_ARGUMENT, (err as Error).message);
    return;
  }
  const { view, packets } = encoded;
  const started = performance.now();
  let bytes = 0;
  let files = 0;
  let done = false;
  const queue: number[] = [];
  let active = 0;
  const write = async (...p: Buffer[]): Promise<void> => {
    if (!done && !call.send(...p)) await call.drained();
  };
  const fail = (err: Error) => {
    if (done) return;
    done = true;
    call.send(encodePacket(PACKET_ERR, 0, Buffer.from(err.message)));
    call.end();
  };
  const sendFile = async (id: number) => {
    const entry = view[id];
    if (!entry?.digest) throw new Error(`file ${id} was not offered`);
    files++;
    for await (const chunk of dir.open(entry.digest) as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; off += DATA_CHUNK) {
        const part = chunk.subarray(off, off + DATA_CHUNK);
        bytes += part.length;
        await write(encodePacket(PACKET_DATA, id, part));
        if (done) return;
      }
    }
    await write(encodePacket(PACKET_DATA, id));
  };
  const pump = () => {
    while (active < SEND_WORKERS && queue.length && !done) {
      const id = queue.shift()!;
      active++;
      sendFile(id)
        .catch(fail)
        .finally(() => {
          active--;
          pump();
        });
    }
  };
  call.onMessage((raw) => {
    if (done) return;
    let p: ReturnType<typeof decodePacket>;
    try {
      p = decodePacket(raw);
    } catch (err) {
      fail(err as Error);
      return;
    }
    if (p.type === PACKET_REQ) {
      queue.push(p.id);
      pump();
    } else if (p.type === PACKET_FIN) {
      done = true;
      call.send(encodePacket(PACKET_FIN));
      call.end();
      onTransfer?.(name, bytes, files, Math.round(performance.now() - started));
    } else if (p.type === PACKET_ERR) {
      done = true;
      call.end();
    }
  });
  call.onClose(() => {
    done = true;
  });
  (async () => {
    for (let i = 0; i < packets.length && !done; i += STAT_BATCH)
      await write(...packets.slice(i, i + STAT_BATCH));
    await write(encodeStatPacket(undefined));
  })().catch(fail);
}

function sshHandlers(ssh: NonNullable<SessionOptions['ssh']>): Handlers {
  return {
    unary: {
      '/moby.sshforward.v1.SSH/CheckAgent': async (req) => {
        const id = stringField(decodeFields(req), 1) || 'default';
        if (!ssh.ids.includes(id))
          throw new GrpcError(Status.NOT_FOUND, `no SSH agent "${id}" was forwarded for this build`);
        return Buffer.alloc(0);
      },
    },
    stream: {
      '/moby.sshforward.v1.SSH/ForwardAgent': (call) => {
        const id = call.metadata.get('id')?.[0] || 'default';
        if (!ssh.ids.includes(id)) {
          call.fail(Status.NOT_FOUND, `no SSH agent "${id}" was forwarded for this build`);
          return;
        }
        // Bytes from BuildKit that arrive before the agent connection is up.
        const early: Buffer[] = [];
        let agent: Duplex | undefined;
        let halfClosed = false;
        call.onMessage((m) => {
          const data = decodeFields(m).get(1);
          if (!Buffer.isBuffer(data) || !data.length) return;
          if (agent) agent.write(data);
          else early.push(Buffer.from(data));
        });
        call.onHalfClose(() => {
          halfClosed = true;
          agent?.end();
        });
        call.onClose(() => agent?.destroy());
        ssh.connect(id).then(
          (a) => {
            agent = a;
            if (call.closed) {
              a.destroy();
              return;
            }
            for (const b of early) a.write(b);
            if (halfClosed) a.end();
            a.on('data', (data: Buffer) => {
              if (!call.send(encodeFields([[1, data]]))) {
                a.pause();
                call.drained().then(() => a.resume());
              }
            });
            a.on('end', () => call.end());
            a.on('error', (err: Error) => call.fail(Status.UNAVAILABLE, err.message));
          },
          (err: Error) => call.fail(Status.UNAVAILABLE, err.message),
        );
      },
    },
  };
}

function methodsOf(opts: SessionOptions): string[] {
  const m = ['/grpc.health.v1.Health/Check', '/moby.filesync.v1.FileSync/DiffCopy'];
  if (opts.secrets) m.push('/moby.buildkit.secrets.v1.Secrets/GetSecret');
  if (opts.credentials) m.push('/moby.filesync.v1.Auth/Credentials');
  if (opts.ssh) m.push('/moby.sshforward.v1.SSH/CheckAgent', '/moby.sshforward.v1.SSH/ForwardAgent');
  // BuildKit's exporters check for it before they send anything.
  if (opts.output) m.push('/moby.filesync.v1.FileSend/DiffCopy');
  return m;
}

function handlersFor(opts: SessionOptions): Handlers {
  const unary: NonNullable<Handlers['unary']> = {
    // BuildKit drops a session whose health check fails.
    '/grpc.health.v1.Health/Check': async () => encodeFields([[1, 1]]),
  };
  const stream: NonNullable<Handlers['stream']> = {
    '/moby.filesync.v1.FileSync/DiffCopy': (call) =>
      serveDiffCopy(call, opts.dirs, opts.onTransfer, opts.onIncomplete),
  };
  const output = opts.output;
  if (output) {
    let claimed = false;
    stream['/moby.filesync.v1.FileSend/DiffCopy'] = (call) =>
      serveFileSend(call, output, () => {
        if (claimed) return false;
        claimed = true;
        return true;
      });
  }
  const secrets = opts.secrets;
  if (secrets)
    unary['/moby.buildkit.secrets.v1.Secrets/GetSecret'] = async (req) => {
      const id = stringField(decodeFields(req), 1);
      const data = secrets.get(id);
      if (!data) throw new GrpcError(Status.NOT_FOUND, `secret ${id} not found`);
      return encodeFields([[1, data]]);
    };
  const credentials = opts.credentials;
  if (credentials)
    unary['/moby.filesync.v1.Auth/Credentials'] = async (req) => {
      const c = credentials(stringField(decodeFields(req), 1));
      return encodeFields([
        [1, c?.username ?? ''],
        [2, c?.secret ?? ''],
      ]);
    };
  if (opts.ssh) {
    const ssh = sshHandlers(opts.ssh);
    Object.assign(unary, ssh.unary);
    Object.assign(stream, ssh.stream);
  }
  return { unary, stream };
}

/** Opens a session on a dockerd (`POST /session`, upgraded to h2c) and serves it until closed. */
export function openSession(api: EngineApi, opts: SessionOptions): Promise<EngineSession> {
  const id = randomUUID();
  const handlers = handlersFor(opts);
  return new Promise((resolve, reject) => {
    const req = http.request(
      engineRequestOptions(api.endpoint, {
        method: 'POST',
        path: '/session',
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'h2c',
          'X-Docker-Expose-Session-Uuid': id,
          'X-Docker-Expose-Session-Name': opts.name,
          'X-Docker-Expose-Session-Sharedkey': opts.sharedKey,
          'X-Docker-Expose-Session-Grpc-Method': methodsOf(opts),
        },
        timeoutMs: 30_000,
      }),
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (err) =>
      reject(
        new EngineError('engine_unreachable', `cannot open a build session: ${err.message}`, { cause: err }),
      ),
    );
    req.on('response', (res) => {
      res.resume();
      reject(
        new EngineError(
          'session_unsupported',
          `the engine refused a build session (HTTP ${res.statusCode}); it needs BuildKit sessions (Docker ≥ 18.09)`,
        ),
      );
    });
    req.on('upgrade', (_res, socket, head) => {
      if (head.length) socket.unshift(head);
      let closedByUs = false;
      const ended = new Promise<Error | undefined>((settle) => {
        let reason: Error | undefined;
        socket.on('error', (err) => {
          reason = err;
        });
        socket.on('close', () => {
          settle(
            closedByUs
              ? undefined
              : (abortReason ?? reason ?? new Error('the engine closed the session connection')),
          );
        });
      });
      let abortReason: Error | undefined;
      socket.setNoDelay(true);
      socket.setTimeout(0);
      serveConnection(socket, handlers);
      resolve({
        id,
        ended,
        close() {
          closedByUs = true;
          socket.destroy();
        },
        abort(why) {
          abortReason ??= why;
          socket.destroy();
        },
      });
    });
    req.end();
  });
}
