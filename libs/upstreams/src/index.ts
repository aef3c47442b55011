export * from './breaker.js';
export * from './upstream.js';
export * from './scheduler.js';
export * from './affinity.js';
export * from './upstream-pool.js';
export * from './upstream-registry.js';
