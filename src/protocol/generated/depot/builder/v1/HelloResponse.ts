// Original file: proto/depot/builder/v1/builder.proto


export interface HelloResponse {
  'builderId'?: (string);
  'builderVersion'?: (string);
  'protocolVersion'?: (number);
  'platforms'?: (string)[];
  'capabilities'?: (string)[];
  'engineVersion'?: (string);
  /**
   * "graphdriver" or "containerd": what the builder's engine stores images in.
   */
  'imageStore'?: (string);
}

export interface HelloResponse__Output {
  'builderId': (string);
  'builderVersion': (string);
  'protocolVersion': (number);
  'platforms': (string)[];
  'capabilities': (string)[];
  'engineVersion': (string);
  /**
   * "graphdriver" or "containerd": what the builder's engine stores images in.
   */
  'imageStore': (string);
}
