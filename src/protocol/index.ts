export * from './chain.js';
export * from './grpc.js';
export * from './manifest.js';
export * from './ignore-patterns.js';
