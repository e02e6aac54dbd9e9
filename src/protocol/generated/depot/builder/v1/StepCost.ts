// Original file: proto/depot/builder/v1/builder.proto

import type { CascadeCost as _depot_builder_v1_CascadeCost, CascadeCost__Output as _depot_builder_v1_CascadeCost__Output } from '../../../depot/builder/v1/CascadeCost.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One instruction's record over the builds read; a step row each time it ran (an instruction
 * in two stages counts twice per build).
 */
export interface StepCost {
  /**
   * As the history keeps it: the vertex name without "[stage n/m] ", e.g. "RUN npm ci"; cut to
   * 2048 characters.
   */
  'instr'?: (string);
  'runs'?: (number);
  'misses'?: (number);
  /**
   * Misses whose own inputs changed, and misses that only followed a missed step before them.
   */
  'rootMisses'?: (number);
  'cascadedMisses'?: (number);
  /**
   * The time every miss took, and the root misses alone.
   */
  'costMs'?: (number | string | Long);
  'rootCostMs'?: (number | string | Long);
  /**
   * The cascaded misses by root, costliest first (at most 10).
   */
  'causedBy'?: (_depot_builder_v1_CascadeCost)[];
}

/**
 * One instruction's record over the builds read; a step row each time it ran (an instruction
 * in two stages counts twice per build).
 */
export interface StepCost__Output {
  /**
   * As the history keeps it: the vertex name without "[stage n/m] ", e.g. "RUN npm ci"; cut to
   * 2048 characters.
   */
  'instr': (string);
  'runs': (number);
  'misses': (number);
  /**
   * Misses whose own inputs changed, and misses that only followed a missed step before them.
   */
  'rootMisses': (number);
  'cascadedMisses': (number);
  /**
   * The time every miss took, and the root misses alone.
   */
  'costMs': (number);
  'rootCostMs': (number);
  /**
   * The cascaded misses by root, costliest first (at most 10).
   */
  'causedBy': (_depot_builder_v1_CascadeCost__Output)[];
}
