// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Of the misses of an install that followed a whole-context copy: in how many the copy missed
 * for changed files only, and none of them was one of the install's manifests (the install, run
 * on the manifests alone, would have been reused), and how many could not be told.
 */
export interface InstallReuse {
  /**
   * The installer, e.g. "npm", and the files it reads (installers.ts).
   */
  'tool'?: (string);
  'manifests'?: (string)[];
  'reusable'?: (number);
  /**
   * The time the install took in those builds.
   */
  'reusableMs'?: (number | string | Long);
  /**
   * The diff was not recorded, or was capped (more changed paths than it lists).
   */
  'unknown'?: (number);
}

/**
 * Of the misses of an install that followed a whole-context copy: in how many the copy missed
 * for changed files only, and none of them was one of the install's manifests (the install, run
 * on the manifests alone, would have been reused), and how many could not be told.
 */
export interface InstallReuse__Output {
  /**
   * The installer, e.g. "npm", and the files it reads (installers.ts).
   */
  'tool': (string);
  'manifests': (string)[];
  'reusable': (number);
  /**
   * The time the install took in those builds.
   */
  'reusableMs': (number);
  /**
   * The diff was not recorded, or was capped (more changed paths than it lists).
   */
  'unknown': (number);
}
