// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

/**
 * One pushed image manifest.
 */
export interface PushedImage {
  /**
   * Repository without tag, e.g. "127.0.0.1:5000/team/app".
   */
  'repository'?: (string);
  'tag'?: (string);
  /**
   * Manifest digest.
   */
  'digest'?: (string);
  'size'?: (number | string | Long);
  'mediaType'?: (string);
}

/**
 * One pushed image manifest.
 */
export interface PushedImage__Output {
  /**
   * Repository without tag, e.g. "127.0.0.1:5000/team/app".
   */
  'repository': (string);
  'tag': (string);
  /**
   * Manifest digest.
   */
  'digest': (string);
  'size': (number);
  'mediaType': (string);
}
