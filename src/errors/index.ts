// The error base every module shares. It imports nothing, so the CLI's start-up and the registry
// client can name it without loading the gRPC stack that src/session brings.
export * from './depot-error.js';
