// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface NeedBlobs {
  'digests'?: (string)[];
  'bytes'?: (number | string | Long);
}

export interface NeedBlobs__Output {
  'digests': (string)[];
  'bytes': (number);
}
