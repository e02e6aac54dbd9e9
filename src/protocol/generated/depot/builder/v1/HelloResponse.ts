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
  /**
   * Platforms the builder's engine runs through emulation (qemu binfmt), used only when the client
   * allows emulation. "*" means any: the engine's own binfmt decides (the embedded builder).
   */
  'emulatedPlatforms'?: (string)[];
  /**
   * The projects this builder serves (serve --projects); empty: every project.
   */
  'projects'?: (string)[];
  /**
   * The build history this builder records into and answers Stats and WatchBuilds from: the id of
   * a history shared by a fleet (the same on every builder of it), or '' for the builder's own.
   */
  'historyId'?: (string);
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
  /**
   * Platforms the builder's engine runs through emulation (qemu binfmt), used only when the client
   * allows emulation. "*" means any: the engine's own binfmt decides (the embedded builder).
   */
  'emulatedPlatforms': (string)[];
  /**
   * The projects this builder serves (serve --projects); empty: every project.
   */
  'projects': (string)[];
  /**
   * The build history this builder records into and answers Stats and WatchBuilds from: the id of
   * a history shared by a fleet (the same on every builder of it), or '' for the builder's own.
   */
  'historyId': (string);
}
