export {
  type DurableData,
  type DurableWriteOptions,
  type FileLockFailure,
  type FileLockOptions,
  withFileLock,
  writeFileDurably,
} from './durable-file.js';
