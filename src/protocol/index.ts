export * from './chain.js';
export * from './grpc.js';
export * from './manifest.js';
