/**
 * `docker build`'s engine flags on a shared builder: what a client may ask of the builder's engine
 * (`--network`, `--add-host`, `--shm-size`, `--ulimit`, `--cache-from`, `--cache-to type=inline`,
 * the resource flags), checked and bounded by the protocol's one check (src/protocol/engine-options)
 * before the engine sees them. What would reach past the build's own sandbox on a machine other
 * projects share needs the builder's consent: `--network host` only with `depot-builder serve
 * --allow-network-host`, and no cache source in the builder's internal namespace.
 */

import { DepotError } from '../../../src/errors/index.js';
import {
  checkEngineOptions as checkSyntax,
  type EngineBuildOptions,
} from '../../../src/protocol/engine-options.js';
import type { EngineOptions } from '../../../src/protocol/generated/depot/builder/v1/EngineOptions.js';

export class EngineOptionsError extends Error {
  constructor(
    message: string,
    /** 'invalid': bad input; 'denied': valid, but this builder does not allow it. */
    readonly kind: 'invalid' | 'denied',
  ) {
    super(message);
  }
}

export interface EngineOptionsPolicy {
  /** `--network host` (RUN steps on the builder host's network) is allowed here. */
  allowNetworkHost: boolean;
  /** A name in the builder's internal namespace (another project's images): never a cache source. */
  isInternal(ref: string): boolean;
}

/**
 * Checks a build's engine flags and returns them as the engine takes them (cache sources still as
 * the client named them: the caller maps them to the project's own images). Throws an
 * EngineOptionsError naming the flag.
 */
export function checkEngineOptions(
  input: EngineOptions | null | undefined,
  policy: EngineOptionsPolicy,
): EngineBuildOptions | undefined {
  let out: EngineBuildOptions | undefined;
  try {
    out = checkSyntax(input);
  } catch (err) {
    if (err instanceof DepotError && err.code === 'invalid_flag')
      throw new EngineOptionsError(err.message, 'invalid');
    throw err;
  }
  if (out?.network === 'host' && !policy.allowNetworkHost)
    throw new EngineOptionsError(
      '--network host is not allowed on this builder: RUN steps would share the network of a machine other projects use (its operator can allow it with depot-builder serve --allow-network-host)',
      'denied',
    );
  for (const ref of out?.cacheFrom ?? [])
    if (policy.isInternal(ref))
      throw new EngineOptionsError(
        `--cache-from ${JSON.stringify(ref.slice(0, 64))}: names in the builder's own namespace are not cache sources`,
        'denied',
      );
  return out;
}

/** A stable text of the options for the result memo's key (builds that differ in them differ). */
export function engineOptionsKey(o: EngineBuildOptions | undefined): string {
  if (!o) return '';
  return JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
