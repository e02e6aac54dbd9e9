export type { BlobStore, BlobWriter } from './blob-store.js';
export { createBlobStore } from './blob-store.js';
export type { Store } from './create-store.js';
export { createStore } from './create-store.js';
export { digestHex, isDigest, StoreError } from './errors.js';
export type { SnapshotStore } from './snapshot-store.js';
export { createSnapshotStore } from './snapshot-store.js';
export { cleanStaleTemp, tempPath } from './tmp-dir.js';
