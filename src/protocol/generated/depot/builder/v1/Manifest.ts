// Original file: proto/depot/builder/v1/builder.proto

import type { Entry as _depot_builder_v1_Entry, Entry__Output as _depot_builder_v1_Entry__Output } from '../../../depot/builder/v1/Entry.js';

export interface Manifest {
  'entries'?: (_depot_builder_v1_Entry)[];
}

export interface Manifest__Output {
  'entries': (_depot_builder_v1_Entry__Output)[];
}
