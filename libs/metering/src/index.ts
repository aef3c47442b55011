export * from './usage-record.js';
export { UsageLog, type UsageLogOptions } from './usage-log.js';
export { OllamaMeter } from './ollama-meter.js';
export { countTokens, estimatePromptTokens, promptTokenBound, PromptSize, tokenizerLoaded } from './token-estimator.js';
