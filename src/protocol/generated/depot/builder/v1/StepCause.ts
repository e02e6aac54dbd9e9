// Original file: proto/depot/builder/v1/builder.proto


/**
 * Why one step missed the cache.
 */
export interface StepCause {
  /**
   * "changed_files", "build_arg", "dockerfile_changed", "base_image", "no_cache", "first_build",
   * "evicted", "unknown"
   */
  'kind'?: (string);
  /**
   * changed_files: the changed context paths under the step's sources (capped) and how many more.
   */
  'paths'?: (string)[];
  'morePaths'?: (number);
  /**
   * build_arg: the argument's name.
   */
  'name'?: (string);
  /**
   * dockerfile_changed: the instruction's line (1-based) in the new Dockerfile.
   */
  'line'?: (number);
  /**
   * base_image: the new image digest.
   */
  'digest'?: (string);
  /**
   * One human line, e.g. "src/app.js and 2 more changed under COPY src/ ."
   */
  'text'?: (string);
  /**
   * Set when the step missed only because a step it builds on did (a cascade): the vertex digest
   * of the first such step whose own inputs changed (the root cause). The other fields are the
   * root's cause; a client shows "because #N" with N that vertex's number.
   */
  'rootVertex'?: (string);
}

/**
 * Why one step missed the cache.
 */
export interface StepCause__Output {
  /**
   * "changed_files", "build_arg", "dockerfile_changed", "base_image", "no_cache", "first_build",
   * "evicted", "unknown"
   */
  'kind': (string);
  /**
   * changed_files: the changed context paths under the step's sources (capped) and how many more.
   */
  'paths': (string)[];
  'morePaths': (number);
  /**
   * build_arg: the argument's name.
   */
  'name': (string);
  /**
   * dockerfile_changed: the instruction's line (1-based) in the new Dockerfile.
   */
  'line': (number);
  /**
   * base_image: the new image digest.
   */
  'digest': (string);
  /**
   * One human line, e.g. "src/app.js and 2 more changed under COPY src/ ."
   */
  'text': (string);
  /**
   * Set when the step missed only because a step it builds on did (a cascade): the vertex digest
   * of the first such step whose own inputs changed (the root cause). The other fields are the
   * root's cause; a client shows "because #N" with N that vertex's number.
   */
  'rootVertex': (string);
}
