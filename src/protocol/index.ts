export * from './bytes.js';
export * from './chain.js';
export * from './follow-paths.js';
export * from './grpc.js';
export * from './ignore-patterns.js';
export * from './loopback.js';
export * from './manifest.js';
export * from './merkle.js';
