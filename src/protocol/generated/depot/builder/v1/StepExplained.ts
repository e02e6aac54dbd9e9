// Original file: proto/depot/builder/v1/builder.proto

import type { StepCause as _depot_builder_v1_StepCause, StepCause__Output as _depot_builder_v1_StepCause__Output } from '../../../depot/builder/v1/StepCause.js';

export interface StepExplained {
  'vertex'?: (string);
  'cause'?: (_depot_builder_v1_StepCause | null);
}

export interface StepExplained__Output {
  'vertex': (string);
  'cause': (_depot_builder_v1_StepCause__Output | null);
}
