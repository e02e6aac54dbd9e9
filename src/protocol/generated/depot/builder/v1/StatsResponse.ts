// Original file: proto/depot/builder/v1/builder.proto

import type { StatsTotals as _depot_builder_v1_StatsTotals, StatsTotals__Output as _depot_builder_v1_StatsTotals__Output } from '../../../depot/builder/v1/StatsTotals.js';
import type { StatsGroup as _depot_builder_v1_StatsGroup, StatsGroup__Output as _depot_builder_v1_StatsGroup__Output } from '../../../depot/builder/v1/StatsGroup.js';
import type { StatsBucket as _depot_builder_v1_StatsBucket, StatsBucket__Output as _depot_builder_v1_StatsBucket__Output } from '../../../depot/builder/v1/StatsBucket.js';
import type { CacheBuster as _depot_builder_v1_CacheBuster, CacheBuster__Output as _depot_builder_v1_CacheBuster__Output } from '../../../depot/builder/v1/CacheBuster.js';
import type { BuildSummary as _depot_builder_v1_BuildSummary, BuildSummary__Output as _depot_builder_v1_BuildSummary__Output } from '../../../depot/builder/v1/BuildSummary.js';

export interface StatsResponse {
  'window'?: (string);
  'totals'?: (_depot_builder_v1_StatsTotals | null);
  'groups'?: (_depot_builder_v1_StatsGroup)[];
  'series'?: (_depot_builder_v1_StatsBucket)[];
  'busters'?: (_depot_builder_v1_CacheBuster)[];
  'running'?: (_depot_builder_v1_BuildSummary)[];
  /**
   * The latest finished builds in the window, newest first (at most 20).
   */
  'recent'?: (_depot_builder_v1_BuildSummary)[];
}

export interface StatsResponse__Output {
  'window': (string);
  'totals': (_depot_builder_v1_StatsTotals__Output | null);
  'groups': (_depot_builder_v1_StatsGroup__Output)[];
  'series': (_depot_builder_v1_StatsBucket__Output)[];
  'busters': (_depot_builder_v1_CacheBuster__Output)[];
  'running': (_depot_builder_v1_BuildSummary__Output)[];
  /**
   * The latest finished builds in the window, newest first (at most 20).
   */
  'recent': (_depot_builder_v1_BuildSummary__Output)[];
}
