// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

/**
 * What the builder left out of a trace to keep it within its bound: step logs first (oldest
 * first; each step whose log was cut carries a log line saying how much), then progress updates.
 */
export interface TraceCut {
  /**
   * Step log bytes and progress updates left out.
   */
  'logBytes'?: (number | string | Long);
  'statuses'?: (number);
  /**
   * Other events left out (only when logs and progress were not enough).
   */
  'events'?: (number);
  /**
   * The bound the trace was cut to (compressed bytes).
   */
  'maxBytes'?: (number | string | Long);
}

/**
 * What the builder left out of a trace to keep it within its bound: step logs first (oldest
 * first; each step whose log was cut carries a log line saying how much), then progress updates.
 */
export interface TraceCut__Output {
  /**
   * Step log bytes and progress updates left out.
   */
  'logBytes': (number);
  'statuses': (number);
  /**
   * Other events left out (only when logs and progress were not enough).
   */
  'events': (number);
  /**
   * The bound the trace was cut to (compressed bytes).
   */
  'maxBytes': (number);
}
