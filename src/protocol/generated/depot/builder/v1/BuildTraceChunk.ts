// Original file: proto/depot/builder/v1/builder.proto

import type { BuildTraceHeader as _depot_builder_v1_BuildTraceHeader, BuildTraceHeader__Output as _depot_builder_v1_BuildTraceHeader__Output } from '../../../depot/builder/v1/BuildTraceHeader.js';
import type { TracedEvent as _depot_builder_v1_TracedEvent, TracedEvent__Output as _depot_builder_v1_TracedEvent__Output } from '../../../depot/builder/v1/TracedEvent.js';

/**
 * The first chunk carries the header, every later one events (at most about 256 KiB each).
 */
export interface BuildTraceChunk {
  'header'?: (_depot_builder_v1_BuildTraceHeader | null);
  'events'?: (_depot_builder_v1_TracedEvent)[];
}

/**
 * The first chunk carries the header, every later one events (at most about 256 KiB each).
 */
export interface BuildTraceChunk__Output {
  'header': (_depot_builder_v1_BuildTraceHeader__Output | null);
  'events': (_depot_builder_v1_TracedEvent__Output)[];
}
