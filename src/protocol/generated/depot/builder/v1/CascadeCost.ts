// Original file: proto/depot/builder/v1/builder.proto

import type { InstallReuse as _depot_builder_v1_InstallReuse, InstallReuse__Output as _depot_builder_v1_InstallReuse__Output } from '../../../depot/builder/v1/InstallReuse.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A root miss (one whose own inputs changed) and the misses of one later step that followed it.
 */
export interface CascadeCost {
  /**
   * The root step's instruction, e.g. "COPY . ."; '' when the history does not say which.
   */
  'root'?: (string);
  /**
   * Misses of the step that followed from it, and the time they took.
   */
  'count'?: (number);
  'costMs'?: (number | string | Long);
  /**
   * Set when `root` copies the whole context and the step is the dependency install right after
   * it: how often the changed paths lay outside the install's manifests.
   */
  'installReuse'?: (_depot_builder_v1_InstallReuse | null);
}

/**
 * A root miss (one whose own inputs changed) and the misses of one later step that followed it.
 */
export interface CascadeCost__Output {
  /**
   * The root step's instruction, e.g. "COPY . ."; '' when the history does not say which.
   */
  'root': (string);
  /**
   * Misses of the step that followed from it, and the time they took.
   */
  'count': (number);
  'costMs': (number);
  /**
   * Set when `root` copies the whole context and the step is the dependency install right after
   * it: how often the changed paths lay outside the install's manifests.
   */
  'installReuse': (_depot_builder_v1_InstallReuse__Output | null);
}
