// Original file: proto/depot/builder/v1/builder.proto

import type { NeedBlobs as _depot_builder_v1_NeedBlobs, NeedBlobs__Output as _depot_builder_v1_NeedBlobs__Output } from '../../../depot/builder/v1/NeedBlobs.js';
import type { SnapshotReady as _depot_builder_v1_SnapshotReady, SnapshotReady__Output as _depot_builder_v1_SnapshotReady__Output } from '../../../depot/builder/v1/SnapshotReady.js';

export interface SyncResponse {
  'need'?: (_depot_builder_v1_NeedBlobs | null);
  'ready'?: (_depot_builder_v1_SnapshotReady | null);
  'msg'?: "need"|"ready";
}

export interface SyncResponse__Output {
  'need'?: (_depot_builder_v1_NeedBlobs__Output | null);
  'ready'?: (_depot_builder_v1_SnapshotReady__Output | null);
  'msg'?: "need"|"ready";
}
