// Original file: proto/depot/builder/v1/builder.proto

import type { OutputEntry as _depot_builder_v1_OutputEntry, OutputEntry__Output as _depot_builder_v1_OutputEntry__Output } from '../../../depot/builder/v1/OutputEntry.js';
import type { OutputSummary as _depot_builder_v1_OutputSummary, OutputSummary__Output as _depot_builder_v1_OutputSummary__Output } from '../../../depot/builder/v1/OutputSummary.js';

/**
 * A piece of a build's output, in order. local: an `entry` per path; a regular file's entry that
 * is not `unchanged` is followed by its `data` (zero or more) and one `file_end`. tar: `data` only.
 * Both end with one `done`.
 */
export interface OutputEvent {
  'entry'?: (_depot_builder_v1_OutputEntry | null);
  'data'?: (Buffer | Uint8Array | string);
  /**
   * The sha256 ("sha256:<hex>") of the file whose data just ended.
   */
  'fileEnd'?: (string);
  'done'?: (_depot_builder_v1_OutputSummary | null);
  'msg'?: "entry"|"data"|"fileEnd"|"done";
}

/**
 * A piece of a build's output, in order. local: an `entry` per path; a regular file's entry that
 * is not `unchanged` is followed by its `data` (zero or more) and one `file_end`. tar: `data` only.
 * Both end with one `done`.
 */
export interface OutputEvent__Output {
  'entry'?: (_depot_builder_v1_OutputEntry__Output | null);
  'data'?: (Buffer);
  /**
   * The sha256 ("sha256:<hex>") of the file whose data just ended.
   */
  'fileEnd'?: (string);
  'done'?: (_depot_builder_v1_OutputSummary__Output | null);
  'msg'?: "entry"|"data"|"fileEnd"|"done";
}
