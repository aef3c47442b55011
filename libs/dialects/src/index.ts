export * from './dialect.js';
export * from './dialect-error.js';
export * from './errors.js';
export * from './model-names.js';
export * from './context-window.js';
export * as openai from './openai/index.js';
export * as anthropic from './anthropic/index.js';
export * as responses from './responses/index.js';
