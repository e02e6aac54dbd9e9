import { FleetError } from '../protocol/fleet/index.js';
import { DepotError } from '../session/index.js';

/** No live (or no reachable) builder for a platform; code 'no_builder' or 'no_reachable_builder'. */
export class RoutingError extends DepotError {
  constructor(code: 'no_builder' | 'no_reachable_builder', message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'RoutingError';
  }
}

/**
 * A DepotError for the CLI's one error handler: FleetError and PlatformError keep their code, message
 * and hint; anything else is returned unchanged.
 */
export function asDepotError(err: unknown): unknown {
  if (err instanceof DepotError) return err;
  if (err instanceof FleetError) return new DepotError(err.code, err.message, err.hint, { cause: err });
  return err;
}
