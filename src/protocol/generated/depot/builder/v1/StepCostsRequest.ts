// Original file: proto/depot/builder/v1/builder.proto


export interface StepCostsRequest {
  /**
   * The Dockerfile's path in the context as BuildRequest.dockerfile_path sends it ('' for a
   * Dockerfile sent on its own) and the target ('' for the last stage): the line of builds.
   */
  'dockerfilePath'?: (string);
  'target'?: (string);
  /**
   * "linux/amd64"…; '' for every platform of the line.
   */
  'platform'?: (string);
  /**
   * How many of the line's latest finished builds to read: 0 means 50; at most 500.
   */
  'last'?: (number);
}

export interface StepCostsRequest__Output {
  /**
   * The Dockerfile's path in the context as BuildRequest.dockerfile_path sends it ('' for a
   * Dockerfile sent on its own) and the target ('' for the last stage): the line of builds.
   */
  'dockerfilePath': (string);
  'target': (string);
  /**
   * "linux/amd64"…; '' for every platform of the line.
   */
  'platform': (string);
  /**
   * How many of the line's latest finished builds to read: 0 means 50; at most 500.
   */
  'last': (number);
}
