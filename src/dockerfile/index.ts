export { type ContextReads, contextReads } from './context-reads.js';
