// Original file: proto/depot/builder/v1/builder.proto

import type { StepCost as _depot_builder_v1_StepCost, StepCost__Output as _depot_builder_v1_StepCost__Output } from '../../../depot/builder/v1/StepCost.js';

export interface StepCostsResponse {
  /**
   * Builds read, newest first, and the `last` that applied (the request's, bounded).
   */
  'builds'?: (number);
  'last'?: (number);
  /**
   * Costliest first (at most 100 instructions).
   */
  'steps'?: (_depot_builder_v1_StepCost)[];
  /**
   * Instructions left out by that bound.
   */
  'moreSteps'?: (number);
}

export interface StepCostsResponse__Output {
  /**
   * Builds read, newest first, and the `last` that applied (the request's, bounded).
   */
  'builds': (number);
  'last': (number);
  /**
   * Costliest first (at most 100 instructions).
   */
  'steps': (_depot_builder_v1_StepCost__Output)[];
  /**
   * Instructions left out by that bound.
   */
  'moreSteps': (number);
}
