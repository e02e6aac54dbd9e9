import * as grpc from '@grpc/grpc-js';
import { DepotError } from '../errors/index.js';

export { DepotError };

/**
 * A file of the context changed between its scan and its upload (its bytes no longer hash to the
 * digest the manifest names): nothing wrong was sent; scan that path again and sync again.
 */
export class ContentChangedError extends DepotError {
  constructor(readonly file: string) {
    super('context_changed', `${file} changed while it was being sent`, 'run the build again');
  }
}

/**
 * Maps a gRPC error from the builder to a DepotError (the one place the client does this).
 * `clientCert`: a client certificate was sent (a refusal of it reaches grpc-js as a bare failure).
 */
export function fromGrpcError(
  err: unknown,
  builderUrl: string,
  opts: { clientCert?: boolean } = {},
): DepotError {
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
  if (e?.code === grpc.status.UNAVAILABLE) {
    // TLS alerts from a builder that requires a client certificate (serve --tls-client-ca): 116 is
    // TLS 1.3's "certificate required", 42/48 "bad certificate"/"unknown ca" for one it does not trust.
    if (/alert certificate required|peer did not return a certificate/i.test(details))
      return new DepotError(
        'tls_client_cert_required',
        `the builder at ${builderUrl} requires a client certificate`,
        'set DEPOT_TLS_CERT and DEPOT_TLS_KEY to one signed by its client CA, e.g. from depot-builder tls init --client NAME',
        { cause: err },
      );
    if (/alert (bad certificate|unknown ca|certificate unknown)/i.test(details))
      return new DepotError(
        'tls_client_cert_rejected',
        `the builder at ${builderUrl} rejected the client certificate (DEPOT_TLS_CERT)`,
        'use a certificate signed by the CA the builder trusts (serve --tls-client-ca)',
        { cause: err },
      );
  }
  // The builder's own deadline (serve --sync-idle-timeout), not a network failure.
  if (e?.code === grpc.status.DEADLINE_EXCEEDED && /sync abandoned/.test(details))
    return new DepotError(
      'sync_timeout',
      `the builder ended the upload: ${details}`,
      'run the command again',
      {
        cause: err,
      },
    );
  // A builder newer than this client says which versions and what to upgrade: print it as it is.
  if (e?.code === grpc.status.FAILED_PRECONDITION && /speaks context protocol/.test(details))
    return new DepotError('protocol_mismatch', details, undefined, { cause: err });
  switch (e?.code) {
    case grpc.status.RESOURCE_EXHAUSTED:
      // A limit of the shared builder (a project's quota or concurrent builds): the message says which.
      return new DepotError('resource_exhausted', `the builder refused: ${details}`, undefined, {
        cause: err,
      });
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new DepotError(
        'builder_unreachable',
        `cannot reach builder at ${builderUrl}: ${details}`,
        opts.clientCert && /^Failed to connect$/.test(details)
          ? 'check that depot-builder is running and that its --tls-client-ca signed DEPOT_TLS_CERT'
          : 'check --builder / DEPOT_BUILDER and that depot-builder is running',
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
  return (
    details
      .replace(/^No connection established\. Last error: (Error: )?/, '')
      .replace(/\.? ?Resolution note:.*$/s, '')
      // grpc-js appends the time of the last connection attempt on a line of its own.
      .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)\s*$/, '')
      .trim()
  );
}
