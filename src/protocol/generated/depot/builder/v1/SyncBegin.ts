// Original file: proto/depot/builder/v1/builder.proto

import type { Manifest as _depot_builder_v1_Manifest, Manifest__Output as _depot_builder_v1_Manifest__Output } from '../../../depot/builder/v1/Manifest.js';
import type { ManifestDelta as _depot_builder_v1_ManifestDelta, ManifestDelta__Output as _depot_builder_v1_ManifestDelta__Output } from '../../../depot/builder/v1/ManifestDelta.js';

export interface SyncBegin {
  'full'?: (_depot_builder_v1_Manifest | null);
  'delta'?: (_depot_builder_v1_ManifestDelta | null);
  /**
   * The snapshot id the client computed for the manifest it sends (the Merkle root over its
   * directories, see docs/architecture.md); the builder refuses a sync whose result differs.
   */
  'snapshotId'?: (string);
  'manifest'?: "full"|"delta";
}

export interface SyncBegin__Output {
  'full'?: (_depot_builder_v1_Manifest__Output | null);
  'delta'?: (_depot_builder_v1_ManifestDelta__Output | null);
  /**
   * The snapshot id the client computed for the manifest it sends (the Merkle root over its
   * directories, see docs/architecture.md); the builder refuses a sync whose result differs.
   */
  'snapshotId': (string);
  'manifest'?: "full"|"delta";
}
