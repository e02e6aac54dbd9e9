// Original file: proto/depot/builder/v1/builder.proto

import type { OutputHave as _depot_builder_v1_OutputHave, OutputHave__Output as _depot_builder_v1_OutputHave__Output } from '../../../depot/builder/v1/OutputHave.js';

export interface OutputRequest {
  /**
   * "local" (a file tree) or "tar" (one tar stream).
   */
  'type'?: (string);
  /**
   * local: regular files the client's destination holds already (at most 10000); the builder
   * marks an output file whose path and sha256 match `unchanged` and sends none of its bytes.
   */
  'have'?: (_depot_builder_v1_OutputHave)[];
}

export interface OutputRequest__Output {
  /**
   * "local" (a file tree) or "tar" (one tar stream).
   */
  'type': (string);
  /**
   * local: regular files the client's destination holds already (at most 10000); the builder
   * marks an output file whose path and sha256 match `unchanged` and sends none of its bytes.
   */
  'have': (_depot_builder_v1_OutputHave__Output)[];
}
