import * as grpc from '@grpc/grpc-js';
import { type BuilderHandlers, ownProtocolVersion } from '../../../src/protocol/index.js';
import {
  CAPABILITY_ENGINE_OPTIONS,
  CAPABILITY_NETWORK_HOST,
  CAPABILITY_SHM_ULIMIT,
} from '../../../src/session/capabilities.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { CAPABILITY_BUILDS, CAPABILITY_STEP_COSTS } from './history-rpc.js';
import { RpcError, toStatus } from './rpc-error.js';

/**
 * The refusal of a client older than this builder (`client`: the version it announced, 0 for none),
 * in the words the client prints as is: which versions, and which side to upgrade. A newer client
 * is answered normally: it refuses this builder itself, having both versions at hand.
 */
export function protocolMismatch(client: number): RpcError {
  return new RpcError(
    grpc.status.FAILED_PRECONDITION,
    `this builder speaks context protocol ${ownProtocolVersion()}, this client ${Number(client) || 1}: upgrade the client (npm i -g depot@latest)`,
  );
}

/** Hello: who the builder is, what it serves and can do. */
export function createHelloHandler(deps: ServerDeps): BuilderHandlers['Hello'] {
  const { engine, opts, driver, logCall } = deps;
  return (call, callback) => {
    const started = Date.now();
    let caller: CallContext | undefined;
    deps.auth
      .authorize(call)
      .then(async (c) => {
        caller = c;
        // Before anything else is said: an older client must not go on to sync or build.
        if ((call.request.protocolVersion || 1) < ownProtocolVersion())
          throw protocolMismatch(call.request.protocolVersion);
        const info = await engine.info();
        callback(null, {
          builderId: opts.builderId,
          builderVersion: opts.version,
          protocolVersion: ownProtocolVersion(),
          platforms: opts.platforms?.length ? opts.platforms : [info.platform],
          emulatedPlatforms: opts.emulated ?? [],
          capabilities: [
            'sync.delta',
            'export.missing-layers',
            'build.cancel',
            ...(driver === 'session'
              ? [
                  'driver.session',
                  'build.secrets',
                  'build.ssh',
                  'build.registry-auth',
                  'context.scoped',
                  'build.output.local',
                  'build.output.tar',
                ]
              : ['driver.tar']),
            ...(deps.history ? [CAPABILITY_STEP_COSTS, CAPABILITY_BUILDS] : []),
            CAPABILITY_ENGINE_OPTIONS,
            // Docker's BuildKit builder applies --shm-size and --ulimit from Engine 23 on.
            ...(Number.parseInt(info.version, 10) >= 23 ? [CAPABILITY_SHM_ULIMIT] : []),
            ...(deps.opts.allowNetworkHost ? [CAPABILITY_NETWORK_HOST] : []),
          ],
          engineVersion: info.version,
          imageStore: info.imageStore,
          projects: opts.projects ?? [],
          historyId: deps.history?.id ?? '',
        });
        logCall('Hello', caller, started);
      })
      .catch((err) => {
        logCall('Hello', caller, started, err);
        callback(toStatus(err));
      });
  };
}
