// Original file: proto/depot/builder/v1/builder.proto

import type { BuildSummary as _depot_builder_v1_BuildSummary, BuildSummary__Output as _depot_builder_v1_BuildSummary__Output } from '../../../depot/builder/v1/BuildSummary.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A recorded build as `depot history ls` lists it.
 */
export interface BuildRecord {
  'summary'?: (_depot_builder_v1_BuildSummary | null);
  /**
   * As BuildRequest.dockerfile_path named it ('' for a Dockerfile sent on its own) and the target
   * ('' for the last stage).
   */
  'dockerfilePath'?: (string);
  'target'?: (string);
  /**
   * Why a build that failed or was cancelled ended, when the builder knows (first 1024 characters).
   */
  'error'?: (string);
  /**
   * The build's events were kept (BuildTrace replays them); false for builds recorded before
   * traces were kept, by a builder that keeps none, or that ended with their builder.
   */
  'hasTrace'?: (boolean);
  /**
   * Bytes the trace takes in the history (compressed).
   */
  'traceBytes'?: (number | string | Long);
  /**
   * Part of the trace was left out to stay within the builder's bound (see TraceCut).
   */
  'traceCut'?: (boolean);
}

/**
 * A recorded build as `depot history ls` lists it.
 */
export interface BuildRecord__Output {
  'summary': (_depot_builder_v1_BuildSummary__Output | null);
  /**
   * As BuildRequest.dockerfile_path named it ('' for a Dockerfile sent on its own) and the target
   * ('' for the last stage).
   */
  'dockerfilePath': (string);
  'target': (string);
  /**
   * Why a build that failed or was cancelled ended, when the builder knows (first 1024 characters).
   */
  'error': (string);
  /**
   * The build's events were kept (BuildTrace replays them); false for builds recorded before
   * traces were kept, by a builder that keeps none, or that ended with their builder.
   */
  'hasTrace': (boolean);
  /**
   * Bytes the trace takes in the history (compressed).
   */
  'traceBytes': (number);
  /**
   * Part of the trace was left out to stay within the builder's bound (see TraceCut).
   */
  'traceCut': (boolean);
}
