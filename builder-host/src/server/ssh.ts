import * as grpc from '@grpc/grpc-js';
import type { BuilderHandlers } from '../../../src/protocol/index.js';
import type { CallContext } from './authorize.js';
import type { ServerDeps } from './deps.js';
import { RpcError, toStatus } from './rpc-error.js';

/** ForwardSsh: a client's SSH agent, relayed to the builds of its project that asked for it. */
export function createSshHandler(deps: ServerDeps): BuilderHandlers['ForwardSsh'] {
  const { driver, sshRelays, logCall } = deps;
  return (call) => {
    const started = Date.now();
    let caller: CallContext | undefined;
    deps.auth
      .authorize(call)
      .then((c) => {
        caller = c;
        if (driver !== 'session')
          throw new RpcError(
            grpc.status.FAILED_PRECONDITION,
            'this builder cannot forward SSH agents (tar driver)',
          );
        sshRelays.attach(call, c.project);
      })
      .catch((err) => {
        logCall('ForwardSsh', caller, started, err);
        call.emit('error', toStatus(err));
      });
  };
}
