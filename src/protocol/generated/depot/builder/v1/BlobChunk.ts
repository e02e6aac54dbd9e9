// Original file: proto/depot/builder/v1/builder.proto


export interface BlobChunk {
  'digest'?: (string);
  'data'?: (Buffer | Uint8Array | string);
  /**
   * True on the last chunk of this blob.
   */
  'last'?: (boolean);
}

export interface BlobChunk__Output {
  'digest': (string);
  'data': (Buffer);
  /**
   * True on the last chunk of this blob.
   */
  'last': (boolean);
}
