// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

export interface StatsBucket {
  'startMs'?: (number | string | Long);
  'steps'?: (number | string | Long);
  'cachedSteps'?: (number | string | Long);
}

export interface StatsBucket__Output {
  'startMs': (number);
  'steps': (number);
  'cachedSteps': (number);
}
