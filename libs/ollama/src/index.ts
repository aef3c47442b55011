export * from './upstream.js';
export { NdjsonScanner } from './ndjson.js';
export type { OllamaChunk } from './types.js';
