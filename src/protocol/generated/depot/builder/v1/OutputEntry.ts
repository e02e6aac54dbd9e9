// Original file: proto/depot/builder/v1/builder.proto

import type { EntryType as _depot_builder_v1_EntryType, EntryType__Output as _depot_builder_v1_EntryType__Output } from '../../../depot/builder/v1/EntryType.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One path of a local output, in walk order (a directory before what it holds).
 */
export interface OutputEntry {
  /**
   * Relative, '/'-separated; the client refuses '..', absolute paths and paths under a non-directory.
   */
  'path'?: (string);
  'type'?: (_depot_builder_v1_EntryType);
  /**
   * Permission bits and setuid/setgid/sticky (mode & 07777).
   */
  'mode'?: (number);
  'size'?: (number | string | Long);
  /**
   * Modification time in nanoseconds since the epoch.
   */
  'mtimeNs'?: (number | string | Long);
  /**
   * Symlink target, or the earlier path a hard link shares its content with.
   */
  'link'?: (string);
  /**
   * A regular file the client holds with this content (OutputRequest.have): no data follows.
   */
  'unchanged'?: (boolean);
  /**
   * "sha256:<hex>" of the content, when `unchanged`.
   */
  'digest'?: (string);
}

/**
 * One path of a local output, in walk order (a directory before what it holds).
 */
export interface OutputEntry__Output {
  /**
   * Relative, '/'-separated; the client refuses '..', absolute paths and paths under a non-directory.
   */
  'path': (string);
  'type': (_depot_builder_v1_EntryType__Output);
  /**
   * Permission bits and setuid/setgid/sticky (mode & 07777).
   */
  'mode': (number);
  'size': (number);
  /**
   * Modification time in nanoseconds since the epoch.
   */
  'mtimeNs': (number);
  /**
   * Symlink target, or the earlier path a hard link shares its content with.
   */
  'link': (string);
  /**
   * A regular file the client holds with this content (OutputRequest.have): no data follows.
   */
  'unchanged': (boolean);
  /**
   * "sha256:<hex>" of the content, when `unchanged`.
   */
  'digest': (string);
}
