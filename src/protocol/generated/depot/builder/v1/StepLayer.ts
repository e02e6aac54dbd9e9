// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The layer a Dockerfile step added to the built image: its uncompressed size as the engine's image
 * history reports it (0 for a step whose layer is empty). Sent before the result, for the steps of
 * the image's own chain of stages only (a stage the image copies from has no layer in it).
 */
export interface StepLayer {
  'vertex'?: (string);
  'bytes'?: (number | string | Long);
}

/**
 * The layer a Dockerfile step added to the built image: its uncompressed size as the engine's image
 * history reports it (0 for a step whose layer is empty). Sent before the result, for the steps of
 * the image's own chain of stages only (a stage the image copies from has no layer in it).
 */
export interface StepLayer__Output {
  'vertex': (string);
  'bytes': (number);
}
