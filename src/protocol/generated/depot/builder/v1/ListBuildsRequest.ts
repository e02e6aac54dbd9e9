// Original file: proto/depot/builder/v1/builder.proto


export interface ListBuildsRequest {
  /**
   * How many builds: 0 means 20; at most 500.
   */
  'limit'?: (number);
  /**
   * Only builds with this result ("running", "ok", "failed", "cancelled"); '' for any.
   */
  'result'?: (string);
  /**
   * Only builds of this platform ("linux/amd64"…, normalized); '' for any.
   */
  'platform'?: (string);
}

export interface ListBuildsRequest__Output {
  /**
   * How many builds: 0 means 20; at most 500.
   */
  'limit': (number);
  /**
   * Only builds with this result ("running", "ok", "failed", "cancelled"); '' for any.
   */
  'result': (string);
  /**
   * Only builds of this platform ("linux/amd64"…, normalized); '' for any.
   */
  'platform': (string);
}
