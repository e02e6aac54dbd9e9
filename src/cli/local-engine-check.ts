import { createLocalEngine, type LocalEngine, LocalEngineError } from '../docker/index.js';
import { DepotError } from '../session/index.js';

const HINT = 'start Docker or set DOCKER_HOST';

/**
 * Pings the local engine a build will load into, before anything is synced or built: an engine
 * that is not there is found in a second, not after the build. Throws a LocalEngineError, which reportError makes a user error with a hint.
 */
export async function requireLocalEngine(): Promise<LocalEngine> {
  // A DOCKER_HOST that cannot be parsed throws here too (reportError makes both user errors).
  const engine = createLocalEngine();
  await engine.ping();
  return engine;
}

/** A LocalEngineError as the user error it is (exit 1, one line, a hint); anything else unchanged (for reportError). */
export function asUserError(err: unknown): unknown {
  if (!(err instanceof LocalEngineError)) return err;
  // An invalid DOCKER_HOST's message already says which forms work.
  const hint = err.code === 'engine_unreachable' ? HINT : undefined;
  return new DepotError(err.code, err.message, hint, { cause: err });
}
