// Original file: proto/depot/builder/v1/builder.proto

import type { BuildEvent as _depot_builder_v1_BuildEvent, BuildEvent__Output as _depot_builder_v1_BuildEvent__Output } from '../../../depot/builder/v1/BuildEvent.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One event of a build as its Build stream sent it, and when (the builder's clock, ms).
 */
export interface TracedEvent {
  'timeMs'?: (number | string | Long);
  'event'?: (_depot_builder_v1_BuildEvent | null);
}

/**
 * One event of a build as its Build stream sent it, and when (the builder's clock, ms).
 */
export interface TracedEvent__Output {
  'timeMs': (number);
  'event': (_depot_builder_v1_BuildEvent__Output | null);
}
