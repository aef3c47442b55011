export * from './upstream.js';
export { NdjsonScanner } from './ndjson.js';
export type * from './types.js';
