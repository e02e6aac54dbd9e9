// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface VertexLog {
  'vertex'?: (string);
  'timestampMs'?: (number | string | Long);
  'stream'?: (number);
  'data'?: (Buffer | Uint8Array | string);
}

export interface VertexLog__Output {
  'vertex': (string);
  'timestampMs': (number);
  'stream': (number);
  'data': (Buffer);
}
