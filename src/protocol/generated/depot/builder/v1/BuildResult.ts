// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface BuildResult {
  'ok'?: (boolean);
  'imageId'?: (string);
  'error'?: (string);
  /**
   * Stable error code for failures, e.g. "dockerfile_syntax", "unknown_target", "cancelled".
   */
  'errorCode'?: (string);
  'tags'?: (string)[];
  'imageSize'?: (number | string | Long);
  /**
   * Diff ids of the image's layers, bottom first.
   */
  'diffIds'?: (string)[];
}

export interface BuildResult__Output {
  'ok': (boolean);
  'imageId': (string);
  'error': (string);
  /**
   * Stable error code for failures, e.g. "dockerfile_syntax", "unknown_target", "cancelled".
   */
  'errorCode': (string);
  'tags': (string)[];
  'imageSize': (number);
  /**
   * Diff ids of the image's layers, bottom first.
   */
  'diffIds': (string)[];
}
