// Original file: proto/depot/builder/v1/builder.proto


export interface ExportRequest {
  'imageId'?: (string);
  /**
   * Layer chain ids the client's engine already has.
   */
  'haveChainIds'?: (string)[];
  /**
   * Send every layer (for engines that need all layer files, e.g. the containerd image store).
   */
  'allLayers'?: (boolean);
}

export interface ExportRequest__Output {
  'imageId': (string);
  /**
   * Layer chain ids the client's engine already has.
   */
  'haveChainIds': (string)[];
  /**
   * Send every layer (for engines that need all layer files, e.g. the containerd image store).
   */
  'allLayers': (boolean);
}
