export * from './manifest.js';
export * from './chain.js';
