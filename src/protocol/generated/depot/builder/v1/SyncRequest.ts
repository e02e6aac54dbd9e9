// Original file: proto/depot/builder/v1/builder.proto

import type { SyncBegin as _depot_builder_v1_SyncBegin, SyncBegin__Output as _depot_builder_v1_SyncBegin__Output } from '../../../depot/builder/v1/SyncBegin.js';
import type { BlobChunk as _depot_builder_v1_BlobChunk, BlobChunk__Output as _depot_builder_v1_BlobChunk__Output } from '../../../depot/builder/v1/BlobChunk.js';

export interface SyncRequest {
  'begin'?: (_depot_builder_v1_SyncBegin | null);
  'chunk'?: (_depot_builder_v1_BlobChunk | null);
  'msg'?: "begin"|"chunk";
}

export interface SyncRequest__Output {
  'begin'?: (_depot_builder_v1_SyncBegin__Output | null);
  'chunk'?: (_depot_builder_v1_BlobChunk__Output | null);
  'msg'?: "begin"|"chunk";
}
