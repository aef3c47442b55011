export * from './upstream.js';
export { NdjsonScanner } from './ndjson.js';
export { ModelCatalogue, type TagEntry } from './catalogue.js';
export type * from './types.js';
export * from './request-policy.js';
