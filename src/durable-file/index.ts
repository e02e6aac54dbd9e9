export {
  type DurableData,
  type DurableWriteOptions,
  type FileLockFailure,
  type FileLockOptions,
  processAlive,
  withFileLock,
  writeFileDurably,
} from './durable-file.js';
