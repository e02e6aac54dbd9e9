import * as grpc from '@grpc/grpc-js';
import { ManifestError } from '../../../src/protocol/index.js';

/** An error that maps to one gRPC status; the only way handlers report failures. */
export class RpcError extends Error {
  constructor(
    readonly status: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** Maps any thrown error to a gRPC status object (the one place the server does this). */
export function toStatus(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof RpcError) return { code: err.status, details: err.message };
  if (err instanceof ManifestError) return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'digest_mismatch' || code === 'invalid_digest')
    return { code: grpc.status.INVALID_ARGUMENT, details: message };
  if (code === 'size_mismatch' || code === 'invalid_size' || code === 'invalid_platform')
    return { code: grpc.status.INVALID_ARGUMENT, details: message };
  if (code === 'blob_missing') return { code: grpc.status.FAILED_PRECONDITION, details: message };
  // A full data disk: the builder's resource is used up, not a bug.
  if (code === 'no_space') return { code: grpc.status.RESOURCE_EXHAUSTED, details: message };
  return { code: grpc.status.INTERNAL, details: message };
}
