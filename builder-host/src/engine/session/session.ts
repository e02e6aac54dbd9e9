/**
 * A BuildKit session opened by the builder to its engine. The builder is the session's client:
 * it dials dockerd's `POST /session` with an h2c upgrade, and on that connection serves, as a gRPC
 * server, the services BuildKit calls back — health, the build's files (FileSync.DiffCopy, served
 * from the snapshot in the store), secrets, registry credentials and SSH agents.
 *
 * The services only need a duplex byte stream: the same server can be injected into any other
 * transport (a standalone buildkitd's Control.Session stream) without change.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ContextEntry } from '../../../../src/protocol/index.js';
import { API_PREFIX, type DockerEndpoint, engineAgent } from '../docker-api.js';
import { EngineError } from '../types.js';
import { buildView, type ViewEntry, type ViewFilter } from './fs-view.js';

/** A directory the session serves by name ("context", "dockerfile"). */
export interface SessionDir {
  entries: readonly ContextEntry[];
  open(digest: string): NodeJS.ReadableStream;
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
  onTransfer?: (dir: string, bytes: number, files: number) => void;
  /** Called once the session is up (observers; tests use it to drop a session mid-build). */
  onOpen?: (session: EngineSession) => void;
}

export interface EngineSession {
  readonly id: string;
  /** Settles when the connection to the engine ends: with the reason, or undefined after close(). */
  readonly ended: Promise<Error | undefined>;
  /** Ends the session (idempotent). */
  close(): void;
  /** Drops the connection as a failure would: `ended` settles with `reason` (builder shutdown, tests). */
  abort(reason: Error): void;
}

function findProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 7; i++) {
    if (existsSync(join(dir, 'proto', 'buildkit', 'fsutil.proto'))) return join(dir, 'proto', 'buildkit');
    dir = dirname(dir);
  }
  throw new Error('proto/buildkit/fsutil.proto not found next to the installed package');
}

// biome-ignore lint/suspicious/noExplicitAny: service definitions from proto-loader are untyped
type Pkg = any;
let pkgCache: Pkg | undefined;
function pkg(): Pkg {
  pkgCache ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(['filesync.proto', 'health.proto', 'secrets.proto', 'ssh.proto'], {
      includeDirs: [findProtoDir()],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
    }),
  );
  return pkgCache;
}

/** Chunk of file content per DATA packet (BuildKit accepts up to 4 MiB per message). */
const DATA_CHUNK = 1024 * 1024;
/** Files served at once per DiffCopy, as fsutil's own sender does. */
const SEND_WORKERS = 4;

function metaList(md: grpc.Metadata, key: string): string[] {
  const raw = md.get(key).map((v) => v.toString());
  const encoded = md.get(`${key}-encoded`).length > 0;
  // A metadata value may carry several comma-separated entries.
  const list = raw.flatMap((v) => v.split(',').map((s) => s.trim())).filter(Boolean);
  return encoded ? list.map((s) => decodeURIComponent(s.replace(/\+/g, ' '))) : list;
}

interface Packet {
  type: 'PACKET_STAT' | 'PACKET_REQ' | 'PACKET_DATA' | 'PACKET_FIN' | 'PACKET_ERR';
  stat?: ViewEntry['stat'] | null;
  ID?: number;
  data?: Buffer;
}

/** Serves one DiffCopy: every stat in walk order, then the content of each file asked for. */
function serveDiffCopy(
  call: grpc.ServerDuplexStream<Packet, Packet>,
  dirs: ReadonlyMap<string, SessionDir>,
  onTransfer: SessionOptions['onTransfer'],
): void {
  const name = metaList(call.metadata, 'dir-name')[0] ?? '';
  const dir = dirs.get(name);
  if (!dir) {
    call.emit('error', { code: grpc.status.NOT_FOUND, details: `no access allowed to dir "${name}"` });
    return;
  }
  const filter: ViewFilter = {
    includes: metaList(call.metadata, 'include-patterns'),
    excludes: metaList(call.metadata, 'exclude-patterns'),
    followPaths: metaList(call.metadata, 'followpaths'),
  };
  let view: ViewEntry[];
  try {
    view = buildView(dir.entries, filter);
  } catch (err) {
    call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (err as Error).message });
    return;
  }
  let bytes = 0;
  let files = 0;
  let done = false;
  const queue: number[] = [];
  let active = 0;
  const write = (p: Packet): Promise<void> =>
    new Promise((resolve) => {
      if (done || call.write(p)) resolve();
      else call.once('drain', resolve);
    });
  const fail = (err: Error) => {
    if (done) return;
    done = true;
    call.write({ type: 'PACKET_ERR', data: Buffer.from(err.message) });
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
        await write({ type: 'PACKET_DATA', ID: id, data: part });
        if (done) return;
      }
    }
    await write({ type: 'PACKET_DATA', ID: id });
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
  call.on('data', (p: Packet) => {
    if (done) return;
    if (p.type === 'PACKET_REQ') {
      queue.push(p.ID ?? 0);
      pump();
    } else if (p.type === 'PACKET_FIN') {
      done = true;
      call.write({ type: 'PACKET_FIN' });
      call.end();
      onTransfer?.(name, bytes, files);
    } else if (p.type === 'PACKET_ERR') {
      done = true;
      call.end();
    }
  });
  call.on('error', () => {
    done = true;
  });
  call.on('cancelled', () => {
    done = true;
  });
  (async () => {
    for (const e of view) {
      if (done) return;
      await write({ type: 'PACKET_STAT', stat: e.stat });
    }
    await write({ type: 'PACKET_STAT' });
  })().catch(fail);
}

function sshService(ssh: NonNullable<SessionOptions['ssh']>) {
  return {
    CheckAgent(call: grpc.ServerUnaryCall<{ ID: string }, object>, cb: grpc.sendUnaryData<object>) {
      const id = call.request.ID || 'default';
      if (ssh.ids.includes(id)) cb(null, {});
      else cb({ code: grpc.status.NOT_FOUND, details: `no SSH agent "${id}" was forwarded for this build` });
    },
    ForwardAgent(call: grpc.ServerDuplexStream<{ data: Buffer }, { data: Buffer }>) {
      const id = call.metadata.get('id')[0]?.toString() || 'default';
      if (!ssh.ids.includes(id)) {
        call.emit('error', { code: grpc.status.NOT_FOUND, details: `no SSH agent "${id}" was forwarded` });
        return;
      }
      ssh.connect(id).then(
        (agent) => {
          agent.on('data', (data: Buffer) => {
            if (!call.write({ data })) agent.pause();
          });
          call.on('drain', () => agent.resume());
          agent.on('end', () => call.end());
          agent.on('error', () => call.end());
          call.on('data', (m: { data: Buffer }) => {
            if (m.data?.length) agent.write(m.data);
          });
          call.on('end', () => agent.end());
          call.on('error', () => agent.destroy());
          call.on('cancelled', () => agent.destroy());
        },
        (err: Error) => call.emit('error', { code: grpc.status.UNAVAILABLE, details: err.message }),
      );
    },
  };
}

function methodsOf(opts: SessionOptions): string[] {
  const m = [
    '/grpc.health.v1.Health/Check',
    '/moby.filesync.v1.FileSync/DiffCopy',
    '/moby.filesync.v1.FileSync/TarStream',
  ];
  if (opts.secrets) m.push('/moby.buildkit.secrets.v1.Secrets/GetSecret');
  if (opts.credentials) m.push('/moby.filesync.v1.Auth/Credentials');
  if (opts.ssh) m.push('/moby.sshforward.v1.SSH/CheckAgent', '/moby.sshforward.v1.SSH/ForwardAgent');
  return m;
}

function createServer(opts: SessionOptions): grpc.Server {
  const p = pkg();
  const server = new grpc.Server();
  server.addService(p.grpc.health.v1.Health.service, {
    Check(_call: unknown, cb: grpc.sendUnaryData<object>) {
      cb(null, { status: 'SERVING' });
    },
  });
  server.addService(p.moby.filesync.v1.FileSync.service, {
    DiffCopy(call: grpc.ServerDuplexStream<Packet, Packet>) {
      serveDiffCopy(call, opts.dirs, opts.onTransfer);
    },
    TarStream(call: grpc.ServerDuplexStream<Packet, Packet>) {
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'only diffcopy is served' });
    },
  });
  const secrets = opts.secrets;
  if (secrets)
    server.addService(p.moby.buildkit.secrets.v1.Secrets.service, {
      GetSecret(call: grpc.ServerUnaryCall<{ ID: string }, object>, cb: grpc.sendUnaryData<object>) {
        const data = secrets.get(call.request.ID);
        if (data) cb(null, { data });
        else cb({ code: grpc.status.NOT_FOUND, details: `secret ${call.request.ID} not found` });
      },
    });
  const credentials = opts.credentials;
  if (credentials)
    server.addService(p.moby.filesync.v1.Auth.service, {
      Credentials(call: grpc.ServerUnaryCall<{ Host: string }, object>, cb: grpc.sendUnaryData<object>) {
        const c = credentials(call.request.Host);
        cb(null, { Username: c?.username ?? '', Secret: c?.secret ?? '' });
      },
    });
  if (opts.ssh) server.addService(p.moby.sshforward.v1.SSH.service, sshService(opts.ssh));
  return server;
}

/** Opens a session on a dockerd (`POST /session`, upgraded to h2c) and serves it until closed. */
export function openSession(ep: DockerEndpoint, opts: SessionOptions): Promise<EngineSession> {
  const id = randomUUID();
  const server = createServer(opts);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: ep.socketPath,
      host: ep.host,
      port: ep.port,
      method: 'POST',
      path: `${API_PREFIX}/session`,
      agent: engineAgent,
      headers: {
        Host: 'docker',
        Connection: 'Upgrade',
        Upgrade: 'h2c',
        'X-Docker-Expose-Session-Uuid': id,
        'X-Docker-Expose-Session-Name': opts.name,
        'X-Docker-Expose-Session-Sharedkey': opts.sharedKey,
        'X-Docker-Expose-Session-Grpc-Method': methodsOf(opts),
      },
      timeout: 30_000,
    });
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
          server.forceShutdown();
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
      injector.injectConnection(socket);
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
