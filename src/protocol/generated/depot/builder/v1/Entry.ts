// Original file: proto/depot/builder/v1/builder.proto

import type { EntryType as _depot_builder_v1_EntryType, EntryType__Output as _depot_builder_v1_EntryType__Output } from '../../../depot/builder/v1/EntryType.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One path of a build context. Paths are relative, '/'-separated, never '..', absolute or NUL.
 */
export interface Entry {
  'path'?: (string);
  'type'?: (_depot_builder_v1_EntryType);
  /**
   * Permission bits and setuid/setgid/sticky (mode & 07777).
   */
  'mode'?: (number);
  'uid'?: (number);
  'gid'?: (number);
  'size'?: (number | string | Long);
  /**
   * Modification time in milliseconds since the epoch.
   */
  'mtimeMs'?: (number | string | Long);
  /**
   * "sha256:<hex>" for regular files.
   */
  'digest'?: (string);
  /**
   * Symlink target or hardlink source path.
   */
  'link'?: (string);
}

/**
 * One path of a build context. Paths are relative, '/'-separated, never '..', absolute or NUL.
 */
export interface Entry__Output {
  'path': (string);
  'type': (_depot_builder_v1_EntryType__Output);
  /**
   * Permission bits and setuid/setgid/sticky (mode & 07777).
   */
  'mode': (number);
  'uid': (number);
  'gid': (number);
  'size': (number);
  /**
   * Modification time in milliseconds since the epoch.
   */
  'mtimeMs': (number);
  /**
   * "sha256:<hex>" for regular files.
   */
  'digest': (string);
  /**
   * Symlink target or hardlink source path.
   */
  'link': (string);
}
