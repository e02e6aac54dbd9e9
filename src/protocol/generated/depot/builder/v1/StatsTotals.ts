// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface StatsTotals {
  'builds'?: (number | string | Long);
  'steps'?: (number | string | Long);
  'cachedSteps'?: (number | string | Long);
  /**
   * cached_steps / steps, 0 when no steps.
   */
  'hitRatio'?: (number | string);
  /**
   * Time the cache saved (see docs/architecture.md).
   */
  'savedMs'?: (number | string | Long);
  'buildMs'?: (number | string | Long);
  /**
   * Context bytes the builder already had (not uploaded again).
   */
  'bytesDeduplicated'?: (number | string | Long);
  'bytesUploaded'?: (number | string | Long);
  'failedBuilds'?: (number | string | Long);
}

export interface StatsTotals__Output {
  'builds': (number);
  'steps': (number);
  'cachedSteps': (number);
  /**
   * cached_steps / steps, 0 when no steps.
   */
  'hitRatio': (number);
  /**
   * Time the cache saved (see docs/architecture.md).
   */
  'savedMs': (number);
  'buildMs': (number);
  /**
   * Context bytes the builder already had (not uploaded again).
   */
  'bytesDeduplicated': (number);
  'bytesUploaded': (number);
  'failedBuilds': (number);
}
