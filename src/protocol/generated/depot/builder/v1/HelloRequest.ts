// Original file: proto/depot/builder/v1/builder.proto


export interface HelloRequest {
  'clientVersion'?: (string);
  'project'?: (string);
}

export interface HelloRequest__Output {
  'clientVersion': (string);
  'project': (string);
}
