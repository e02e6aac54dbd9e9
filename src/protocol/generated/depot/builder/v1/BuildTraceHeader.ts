// Original file: proto/depot/builder/v1/builder.proto

import type { BuildRecord as _depot_builder_v1_BuildRecord, BuildRecord__Output as _depot_builder_v1_BuildRecord__Output } from '../../../depot/builder/v1/BuildRecord.js';
import type { TraceCut as _depot_builder_v1_TraceCut, TraceCut__Output as _depot_builder_v1_TraceCut__Output } from '../../../depot/builder/v1/TraceCut.js';

export interface BuildTraceHeader {
  'record'?: (_depot_builder_v1_BuildRecord | null);
  /**
   * The Dockerfile the build ran (as the builder got it) and the events that follow.
   */
  'dockerfile'?: (string);
  'events'?: (number);
  /**
   * Set when the trace was cut.
   */
  'cut'?: (_depot_builder_v1_TraceCut | null);
}

export interface BuildTraceHeader__Output {
  'record': (_depot_builder_v1_BuildRecord__Output | null);
  /**
   * The Dockerfile the build ran (as the builder got it) and the events that follow.
   */
  'dockerfile': (string);
  'events': (number);
  /**
   * Set when the trace was cut.
   */
  'cut': (_depot_builder_v1_TraceCut__Output | null);
}
