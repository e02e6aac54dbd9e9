// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface OutputHave {
  /**
   * Relative, '/'-separated, never '..', absolute or NUL.
   */
  'path'?: (string);
  /**
   * "sha256:<hex>"
   */
  'digest'?: (string);
  'size'?: (number | string | Long);
}

export interface OutputHave__Output {
  /**
   * Relative, '/'-separated, never '..', absolute or NUL.
   */
  'path': (string);
  /**
   * "sha256:<hex>"
   */
  'digest': (string);
  'size': (number);
}
