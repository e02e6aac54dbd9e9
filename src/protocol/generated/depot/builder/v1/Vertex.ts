// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface Vertex {
  'digest'?: (string);
  'inputs'?: (string)[];
  'name'?: (string);
  'cached'?: (boolean);
  'startedMs'?: (number | string | Long);
  'completedMs'?: (number | string | Long);
  'error'?: (string);
}

export interface Vertex__Output {
  'digest': (string);
  'inputs': (string)[];
  'name': (string);
  'cached': (boolean);
  'startedMs': (number);
  'completedMs': (number);
  'error': (string);
}
