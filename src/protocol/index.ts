export * from './manifest.js';
export * from './chain.js';
export * from './grpc.js';
