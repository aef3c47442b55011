export * from './dialect.js';
export * from './errors.js';
