export * from './dialect.js';
export * from './dialect-error.js';
export * from './errors.js';
