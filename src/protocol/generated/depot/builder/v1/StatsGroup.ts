// Original file: proto/depot/builder/v1/builder.proto

import type { StatsTotals as _depot_builder_v1_StatsTotals, StatsTotals__Output as _depot_builder_v1_StatsTotals__Output } from '../../../depot/builder/v1/StatsTotals.js';

export interface StatsGroup {
  'key'?: (string);
  'totals'?: (_depot_builder_v1_StatsTotals | null);
}

export interface StatsGroup__Output {
  'key': (string);
  'totals': (_depot_builder_v1_StatsTotals__Output | null);
}
