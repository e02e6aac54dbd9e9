// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface SnapshotReady {
  'snapshotId'?: (string);
  'entries'?: (number);
  'totalBytes'?: (number | string | Long);
  'receivedBytes'?: (number | string | Long);
}

export interface SnapshotReady__Output {
  'snapshotId': (string);
  'entries': (number);
  'totalBytes': (number);
  'receivedBytes': (number);
}
