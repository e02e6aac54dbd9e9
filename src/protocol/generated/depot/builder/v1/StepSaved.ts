// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A cached step's cold duration: its last uncached run in this project's history (else the median
 * of the project's recent runs of the same instruction). Only sent when the history knows one.
 */
export interface StepSaved {
  'vertex'?: (string);
  'coldMs'?: (number | string | Long);
}

/**
 * A cached step's cold duration: its last uncached run in this project's history (else the median
 * of the project's recent runs of the same instruction). Only sent when the history knows one.
 */
export interface StepSaved__Output {
  'vertex': (string);
  'coldMs': (number);
}
