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
  /**
   * Only builds where a step of this instruction (as Stats names a cache buster's step, e.g.
   * "COPY src/ /app") missed the cache as a root cause, not merely after an earlier miss; '' for
   * any. At most 2048 characters.
   */
  'missedStep'?: (string);
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
  /**
   * Only builds where a step of this instruction (as Stats names a cache buster's step, e.g.
   * "COPY src/ /app") missed the cache as a root cause, not merely after an earlier miss; '' for
   * any. At most 2048 characters.
   */
  'missedStep': (string);
}
