// Original file: proto/depot/builder/v1/builder.proto


export interface RegistryAuth {
  'username'?: (string);
  'password'?: (string);
  'identityToken'?: (string);
  'serverAddress'?: (string);
}

export interface RegistryAuth__Output {
  'username': (string);
  'password': (string);
  'identityToken': (string);
  'serverAddress': (string);
}
