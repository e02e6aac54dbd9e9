// Original file: proto/depot/builder/v1/builder.proto


export interface HelloRequest {
  'clientVersion'?: (string);
  'project'?: (string);
  /**
   * The wire contract the client speaks (PROTOCOL_VERSION); 0 from clients older than the field,
   * which speak 1. A builder refuses an older client (FAILED_PRECONDITION, naming the versions);
   * a client refuses a builder whose HelloResponse.protocol_version is not its own.
   */
  'protocolVersion'?: (number);
}

export interface HelloRequest__Output {
  'clientVersion': (string);
  'project': (string);
  /**
   * The wire contract the client speaks (PROTOCOL_VERSION); 0 from clients older than the field,
   * which speak 1. A builder refuses an older client (FAILED_PRECONDITION, naming the versions);
   * a client refuses a builder whose HelloResponse.protocol_version is not its own.
   */
  'protocolVersion': (number);
}
