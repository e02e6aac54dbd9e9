export {
  CLIENT_OUTPUT_LIMITS,
  createLocalWriter,
  createTarWriter,
  OutputError,
  type OutputSummary,
  type OutputWriter,
  scanHeld,
} from './writer.js';
