// Original file: proto/depot/builder/v1/builder.proto


export interface BuildRequest {
  'snapshotId'?: (string);
  /**
   * Path of the Dockerfile inside the snapshot, or empty when `dockerfile_content` is set.
   */
  'dockerfilePath'?: (string);
  /**
   * Dockerfile given from stdin or from outside the context.
   */
  'dockerfileContent'?: (Buffer | Uint8Array | string);
  'buildArgs'?: ({[key: string]: string});
  'target'?: (string);
  'platform'?: (string);
  'tags'?: (string)[];
  'noCache'?: (boolean);
  'pull'?: (boolean);
  'labels'?: ({[key: string]: string});
  /**
   * Chosen by the client so that it can be cancelled and correlated.
   */
  'buildId'?: (string);
}

export interface BuildRequest__Output {
  'snapshotId': (string);
  /**
   * Path of the Dockerfile inside the snapshot, or empty when `dockerfile_content` is set.
   */
  'dockerfilePath': (string);
  /**
   * Dockerfile given from stdin or from outside the context.
   */
  'dockerfileContent': (Buffer);
  'buildArgs': ({[key: string]: string});
  'target': (string);
  'platform': (string);
  'tags': (string)[];
  'noCache': (boolean);
  'pull': (boolean);
  'labels': ({[key: string]: string});
  /**
   * Chosen by the client so that it can be cancelled and correlated.
   */
  'buildId': (string);
}
