// Original file: proto/depot/builder/v1/builder.proto

import type { Entry as _depot_builder_v1_Entry, Entry__Output as _depot_builder_v1_Entry__Output } from '../../../depot/builder/v1/Entry.js';

export interface ManifestDelta {
  /**
   * Snapshot the delta applies to; the builder answers FAILED_PRECONDITION if it lacks it.
   */
  'baseSnapshot'?: (string);
  'upserts'?: (_depot_builder_v1_Entry)[];
  'removals'?: (string)[];
}

export interface ManifestDelta__Output {
  /**
   * Snapshot the delta applies to; the builder answers FAILED_PRECONDITION if it lacks it.
   */
  'baseSnapshot': (string);
  'upserts': (_depot_builder_v1_Entry__Output)[];
  'removals': (string)[];
}
