// Original file: proto/depot/builder/v1/builder.proto


export interface SshFrame {
  /**
   * First client frame only: the build this relay serves.
   */
  'buildId'?: (string);
  /**
   * Connection number, chosen by the builder.
   */
  'conn'?: (number);
  /**
   * With `open`: which agent (an id of BuildRequest.ssh_ids).
   */
  'sshId'?: (string);
  'open'?: (boolean);
  'data'?: (Buffer | Uint8Array | string);
  'close'?: (boolean);
  /**
   * With `close` from the client: why the agent could not be reached.
   */
  'error'?: (string);
}

export interface SshFrame__Output {
  /**
   * First client frame only: the build this relay serves.
   */
  'buildId': (string);
  /**
   * Connection number, chosen by the builder.
   */
  'conn': (number);
  /**
   * With `open`: which agent (an id of BuildRequest.ssh_ids).
   */
  'sshId': (string);
  'open': (boolean);
  'data': (Buffer);
  'close': (boolean);
  /**
   * With `close` from the client: why the agent could not be reached.
   */
  'error': (string);
}
