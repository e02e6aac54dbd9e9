// Original file: proto/depot/builder/v1/builder.proto

import type { CauseCount as _depot_builder_v1_CauseCount, CauseCount__Output as _depot_builder_v1_CauseCount__Output } from '../../../depot/builder/v1/CauseCount.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A root cause of cache misses: a step whose own inputs changed (a missed step that only followed
 * an earlier miss is charged to that earlier step, never listed as a buster of its own). Stats
 * ranks busters by cost_ms + cascade_cost_ms: the rebuild time of the step and of the later steps
 * its misses invalidated.
 */
export interface CacheBuster {
  'project'?: (string);
  /**
   * The step's instruction text, e.g. "COPY . ."
   */
  'step'?: (string);
  /**
   * Its own misses (root causes).
   */
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
  /**
   * Misses of later steps that only followed this step's misses (the steps it invalidated, rebuilt).
   */
  'cascadedMisses'?: (number | string | Long);
  /**
   * Time those cost (sum of their uncached durations).
   */
  'cascadeCostMs'?: (number | string | Long);
  /**
   * The instructions invalidated by the latest of its misses that invalidated any, in build order
   * (at most 10).
   */
  'invalidated'?: (string)[];
}

/**
 * A root cause of cache misses: a step whose own inputs changed (a missed step that only followed
 * an earlier miss is charged to that earlier step, never listed as a buster of its own). Stats
 * ranks busters by cost_ms + cascade_cost_ms: the rebuild time of the step and of the later steps
 * its misses invalidated.
 */
export interface CacheBuster__Output {
  'project': (string);
  /**
   * The step's instruction text, e.g. "COPY . ."
   */
  'step': (string);
  /**
   * Its own misses (root causes).
   */
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
  /**
   * Misses of later steps that only followed this step's misses (the steps it invalidated, rebuilt).
   */
  'cascadedMisses': (number);
  /**
   * Time those cost (sum of their uncached durations).
   */
  'cascadeCostMs': (number);
  /**
   * The instructions invalidated by the latest of its misses that invalidated any, in build order
   * (at most 10).
   */
  'invalidated': (string)[];
}
