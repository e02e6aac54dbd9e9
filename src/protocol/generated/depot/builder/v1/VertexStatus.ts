// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface VertexStatus {
  'id'?: (string);
  'vertex'?: (string);
  'name'?: (string);
  'current'?: (number | string | Long);
  'total'?: (number | string | Long);
  'timestampMs'?: (number | string | Long);
  'startedMs'?: (number | string | Long);
  'completedMs'?: (number | string | Long);
}

export interface VertexStatus__Output {
  'id': (string);
  'vertex': (string);
  'name': (string);
  'current': (number);
  'total': (number);
  'timestampMs': (number);
  'startedMs': (number);
  'completedMs': (number);
}
