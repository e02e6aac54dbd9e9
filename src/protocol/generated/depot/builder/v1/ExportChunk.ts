// Original file: proto/depot/builder/v1/builder.proto

import type { ExportSummary as _depot_builder_v1_ExportSummary, ExportSummary__Output as _depot_builder_v1_ExportSummary__Output } from '../../../depot/builder/v1/ExportSummary.js';

export interface ExportChunk {
  'data'?: (Buffer | Uint8Array | string);
  'summary'?: (_depot_builder_v1_ExportSummary | null);
  'msg'?: "data"|"summary";
}

export interface ExportChunk__Output {
  'data'?: (Buffer);
  'summary'?: (_depot_builder_v1_ExportSummary__Output | null);
  'msg'?: "data"|"summary";
}
