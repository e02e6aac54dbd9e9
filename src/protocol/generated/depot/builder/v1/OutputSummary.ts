// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

/**
 * How much of an output crossed the wire.
 */
export interface OutputSummary {
  'files'?: (number);
  'filesUnchanged'?: (number);
  'bytes'?: (number | string | Long);
  'bytesSent'?: (number | string | Long);
}

/**
 * How much of an output crossed the wire.
 */
export interface OutputSummary__Output {
  'files': (number);
  'filesUnchanged': (number);
  'bytes': (number);
  'bytesSent': (number);
}
