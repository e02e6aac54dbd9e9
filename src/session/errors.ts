import * as grpc from '@grpc/grpc-js';

/** A failure the user can act on: one line, a stable code, and usually a hint. */
export class DepotError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Maps a gRPC error from the builder to a DepotError (the one place the client does this). */
export function fromGrpcError(err: unknown, builderUrl: string): DepotError {
  if (err instanceof DepotError) return err;
  const e = err as grpc.ServiceError;
  const details = tidy(e?.details || e?.message || String(err));
  if (e?.code === grpc.status.UNAVAILABLE && details.startsWith('builder_shutdown:'))
    return new DepotError(
      'builder_shutdown',
      'the builder shut down',
      'run the command again when the builder is back',
      { cause: err },
    );
  switch (e?.code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new DepotError(
        'builder_unreachable',
        `cannot reach builder at ${builderUrl}: ${details}`,
        'check --builder / DEPOT_BUILDER and that depot-builder is running',
        { cause: err },
      );
    case grpc.status.UNAUTHENTICATED:
      return new DepotError('unauthenticated', `builder refused the token: ${details}`, undefined, {
        cause: err,
      });
    case grpc.status.PERMISSION_DENIED:
      return new DepotError('permission_denied', `permission denied: ${details}`, undefined, { cause: err });
    case grpc.status.INVALID_ARGUMENT:
      return new DepotError('invalid_argument', `builder rejected the request: ${details}`, undefined, {
        cause: err,
      });
    case grpc.status.CANCELLED:
      return new DepotError('cancelled', 'cancelled', undefined, { cause: err });
    default:
      return new DepotError('builder_error', `builder error: ${details}`, undefined, { cause: err });
  }
}

/** grpc-js wraps connection errors in boilerplate; keep the cause a user can act on. */
function tidy(details: string): string {
  return details
    .replace(/^No connection established\. Last error: (Error: )?/, '')
    .replace(/\.? ?Resolution note:.*$/s, '')
    .trim();
}
