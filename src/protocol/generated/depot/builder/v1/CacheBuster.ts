// Original file: proto/depot/builder/v1/builder.proto

import type { CauseCount as _depot_builder_v1_CauseCount, CauseCount__Output as _depot_builder_v1_CauseCount__Output } from '../../../depot/builder/v1/CauseCount.js';
import type { Long } from '@grpc/proto-loader';

export interface CacheBuster {
  'project'?: (string);
  /**
   * The step's instruction text, e.g. "COPY . ."
   */
  'step'?: (string);
  'misses'?: (number | string | Long);
  /**
   * Time the misses cost (sum of the uncached durations).
   */
  'costMs'?: (number | string | Long);
  'causes'?: (_depot_builder_v1_CauseCount)[];
  /**
   * A concrete change that would keep the step cached, when one is known: the Dockerfile
   * advisor's fix for the finding about this step in the Dockerfile of its latest miss.
   */
  'suggestion'?: (string);
  /**
   * The advisor's rule id behind the suggestion (e.g. "copy-before-install"); '' when none.
   */
  'rule'?: (string);
  /**
   * The advisor's finding: what is wrong and what it costs, one line; '' when none.
   */
  'finding'?: (string);
}

export interface CacheBuster__Output {
  'project': (string);
  /**
   * The step's instruction text, e.g. "COPY . ."
   */
  'step': (string);
  'misses': (number);
  /**
   * Time the misses cost (sum of the uncached durations).
   */
  'costMs': (number);
  'causes': (_depot_builder_v1_CauseCount__Output)[];
  /**
   * A concrete change that would keep the step cached, when one is known: the Dockerfile
   * advisor's fix for the finding about this step in the Dockerfile of its latest miss.
   */
  'suggestion': (string);
  /**
   * The advisor's rule id behind the suggestion (e.g. "copy-before-install"); '' when none.
   */
  'rule': (string);
  /**
   * The advisor's finding: what is wrong and what it costs, one line; '' when none.
   */
  'finding': (string);
}
