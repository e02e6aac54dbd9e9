// Original file: proto/depot/builder/v1/builder.proto

import type { BuildRecord as _depot_builder_v1_BuildRecord, BuildRecord__Output as _depot_builder_v1_BuildRecord__Output } from '../../../depot/builder/v1/BuildRecord.js';

export interface ListBuildsResponse {
  /**
   * Newest first.
   */
  'builds'?: (_depot_builder_v1_BuildRecord)[];
  /**
   * More builds match than `limit` allowed.
   */
  'more'?: (boolean);
}

export interface ListBuildsResponse__Output {
  /**
   * Newest first.
   */
  'builds': (_depot_builder_v1_BuildRecord__Output)[];
  /**
   * More builds match than `limit` allowed.
   */
  'more': (boolean);
}
