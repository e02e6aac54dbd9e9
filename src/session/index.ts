export * from './capabilities.js';
export * from './client.js';
export * from './errors.js';
export * from './events.js';
export * from './load.js';
export * from './ssh-relay.js';
export * from './sync-state.js';
export * from './transport.js';
