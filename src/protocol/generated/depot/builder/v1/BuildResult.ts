// Original file: proto/depot/builder/v1/builder.proto

import type { PushedImage as _depot_builder_v1_PushedImage, PushedImage__Output as _depot_builder_v1_PushedImage__Output } from '../../../depot/builder/v1/PushedImage.js';
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
  'pushed'?: (_depot_builder_v1_PushedImage)[];
  /**
   * Platform the image was built for, e.g. "linux/arm64".
   */
  'platform'?: (string);
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
  'pushed': (_depot_builder_v1_PushedImage__Output)[];
  /**
   * Platform the image was built for, e.g. "linux/arm64".
   */
  'platform': (string);
}
