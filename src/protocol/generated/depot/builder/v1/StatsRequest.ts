// Original file: proto/depot/builder/v1/builder.proto


export interface StatsRequest {
  /**
   * "1h", "24h" or "7d".
   */
  'window'?: (string);
  /**
   * "project", "user" or "platform".
   */
  'groupBy'?: (string);
}

export interface StatsRequest__Output {
  /**
   * "1h", "24h" or "7d".
   */
  'window': (string);
  /**
   * "project", "user" or "platform".
   */
  'groupBy': (string);
}
