// Original file: proto/depot/builder/v1/builder.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Sent once, after the last data chunk.
 */
export interface ExportSummary {
  'layersTotal'?: (number);
  'layersSent'?: (number);
  'imageSize'?: (number | string | Long);
  'archiveBytes'?: (number | string | Long);
}

/**
 * Sent once, after the last data chunk.
 */
export interface ExportSummary__Output {
  'layersTotal': (number);
  'layersSent': (number);
  'imageSize': (number);
  'archiveBytes': (number);
}
