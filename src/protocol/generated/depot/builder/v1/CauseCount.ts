// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface CauseCount {
  'kind'?: (string);
  'count'?: (number | string | Long);
}

export interface CauseCount__Output {
  'kind': (string);
  'count': (number);
}
