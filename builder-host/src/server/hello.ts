import { type BuilderHandlers, PROTOCOL_VERSION } from '../../../src/protocol/index.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { toStatus } from './rpc-error.js';

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
        const info = await engine.info();
        callback(null, {
          builderId: opts.builderId,
          builderVersion: opts.version,
          protocolVersion: PROTOCOL_VERSION,
          platforms: opts.platforms?.length ? opts.platforms : [info.platform],
          emulatedPlatforms: opts.emulated ?? [],
          capabilities: [
            'sync.delta',
            'export.missing-layers',
            'build.cancel',
            ...(driver === 'session'
              ? ['driver.session', 'build.secrets', 'build.ssh', 'build.registry-auth', 'context.scoped']
              : ['driver.tar']),
          ],
          engineVersion: info.version,
          imageStore: info.imageStore,
          projects: opts.projects ?? [],
        });
        logCall('Hello', caller, started);
      })
      .catch((err) => {
        logCall('Hello', caller, started, err);
        callback(toStatus(err));
      });
  };
}
