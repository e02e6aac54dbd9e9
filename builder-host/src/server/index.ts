import * as grpc from '@grpc/grpc-js';
import { type BuilderHandlers, CHUNK_SIZE, loadBuilderProto } from '../../../src/protocol/index.js';
import { createBuildFeed, trivialExplainer } from '../history/index.js';
import { createProjectStores } from '../store/index.js';
import { createAuthorizer } from './authorize.js';
import { createBuildHandler } from './build.js';
import {
  type BuilderServerOptions,
  createCallLogger,
  createPlatformProbe,
  createSyncLedger,
  type ServerDeps,
  SHUTTING_DOWN,
} from './deps.js';
import { createExportHandler } from './export.js';
import { createHelloHandler } from './hello.js';
import { createHistoryHandlers } from './history-rpc.js';
import { DEFAULT_LIMITS } from './limits.js';
import { createResultHolds } from './result-holds.js';
import { createSshHandler } from './ssh.js';
import { createSshRelays } from './ssh-relay.js';
import { createSyncHandler } from './sync.js';

export { ADMIN_PROJECT, type CallContext, PROJECT_NAME, type TokenVerifier } from './authorize.js';
export type { BuilderServerOptions } from './deps.js';
export {
  createImageNamespaces,
  type ImageNamespaces,
  loadNamespaceKey,
  NAMESPACE_HOST,
  OWN_ENGINE_NAMES,
} from './image-namespace.js';
export { DEFAULT_LIMITS, type Limits, parseDuration, parseSize } from './limits.js';
export { createResultHolds, RESULT_HOLD_MS, type ResultHolds } from './result-holds.js';
export { RpcError } from './rpc-error.js';

/** How long a shutdown waits for running builds to answer their clients and stop. */
const BUILD_DRAIN_MS = 2000;
/**
 * The status of a stream still open when the builder shuts down. The `builder_shutdown:` prefix is
 * the code clients map (src/session/errors.ts): without it they would see grpc's CANCELLED, which
 * reads like their own Ctrl-C.
 */
const SHUTDOWN_STATUS: Partial<grpc.StatusObject> = {
  code: grpc.status.UNAVAILABLE,
  details: 'builder_shutdown: the builder is shutting down',
};

/**
 * Creates the Builder service implementation and a grpc.Server that serves it. Each RPC family has
 * its module (hello, sync, build, export, history-rpc, ssh); every handler resolves its caller through
 * authorize.ts and sees only that project's store and image names.
 */
export function createBuilderServer(opts: BuilderServerOptions): {
  server: grpc.Server;
  /** `tls.clientCa`: require client certificates signed by this CA (mutual TLS). */
  listen(address: string, tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer }): Promise<string>;
  close(): Promise<void>;
} {
  const { engine, logger, namespaces } = opts;
  const proto = loadBuilderProto();
  const now = opts.now ?? Date.now;
  const deps: ServerDeps = {
    opts,
    engine,
    logger,
    namespaces,
    driver: opts.driver ?? 'session',
    history: opts.history,
    explainer: opts.explainer ?? trivialExplainer,
    feed: createBuildFeed(),
    now,
    // The only way handlers reach blobs, snapshots and image names: the caller's project's view.
    auth: createAuthorizer({
      tokens: opts.tokens,
      stores: createProjectStores(opts.store, now),
      namespaces,
      projects: opts.projects,
    }),
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    sshRelays: createSshRelays(),
    holds: opts.holds ?? createResultHolds(),
    syncs: createSyncLedger(),
    activeBuilds: new Map(),
    defaultPlatform: createPlatformProbe(engine),
    logCall: createCallLogger(logger),
  };
  const { activeBuilds } = deps;
  // A history shared by a fleet: the builds the other builders record reach this one's watchers.
  const unfollow = opts.history?.follow((summary) => deps.feed.publish(summary));
  const handlers: BuilderHandlers = {
    Hello: createHelloHandler(deps),
    Sync: createSyncHandler(deps),
    Build: createBuildHandler(deps),
    Export: createExportHandler(deps),
    ForwardSsh: createSshHandler(deps),
    ...createHistoryHandlers(deps),
  };

  const server = new grpc.Server({
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5000,
    'grpc.max_receive_message_length': CHUNK_SIZE * 2 + 64 * 1024 * 1024,
  });
  // Streams (other than Build, which ends with its own result) still open at shutdown.
  const openStreams = new Set<NodeJS.EventEmitter>();
  const track = (call: NodeJS.EventEmitter) => {
    openStreams.add(call);
    const done = () => openStreams.delete(call);
    call.once('finish', done);
    call.once('cancelled', done);
    call.once('close', done);
  };
  const served: Record<string, unknown> = { ...handlers };
  for (const name of ['Sync', 'Export', 'WatchBuilds', 'ForwardSsh'] as const) {
    const handler = handlers[name] as (call: NodeJS.EventEmitter) => void;
    served[name] = (call: NodeJS.EventEmitter) => {
      track(call);
      handler(call);
    };
  }
  server.addService(proto.depot.builder.v1.Builder.service, served as BuilderHandlers);

  return {
    server,
    listen(address, tls) {
      const creds = tls
        ? grpc.ServerCredentials.createSsl(
            tls.clientCa ?? null,
            [{ cert_chain: tls.cert, private_key: tls.key }],
            !!tls.clientCa,
          )
        : grpc.ServerCredentials.createInsecure();
      return new Promise((resolve, reject) => {
        server.bindAsync(address, creds, (err, port) => {
          if (err) reject(err);
          else resolve(address.startsWith('unix:') ? address : address.replace(/:\d+$/, `:${port}`));
        });
      });
    },
    async close() {
      // Running builds end with a builder_shutdown result, then settle (and are recorded) before
      // the server stops; an engine slow to cancel does not hold the shutdown beyond a moment.
      const handlers = [...activeBuilds.values()];
      for (const ac of activeBuilds.keys()) ac.abort(SHUTTING_DOWN);
      for (const call of openStreams) call.emit('error', SHUTDOWN_STATUS);
      openStreams.clear();
      await Promise.race([
        Promise.allSettled(handlers),
        new Promise((r) => setTimeout(r, BUILD_DRAIN_MS).unref()),
      ]);
      unfollow?.();
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      });
    },
  };
}
