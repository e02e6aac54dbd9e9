// Original file: proto/depot/builder/v1/builder.proto


export interface BuildTraceRequest {
  /**
   * A build id, or the start of one (at least 4 characters) that names one build id of the project.
   */
  'buildId'?: (string);
}

export interface BuildTraceRequest__Output {
  /**
   * A build id, or the start of one (at least 4 characters) that names one build id of the project.
   */
  'buildId': (string);
}
