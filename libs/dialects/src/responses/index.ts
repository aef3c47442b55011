export { flatName, translateResponsesRequest } from './request.js';
export type { NamespacedFunction, ResponseEcho, ResponsesRequestContext, TranslatedResponsesRequest } from './request.js';
export { functionCallItem, messageItem, reasoningItem, responseObject, statusFor, toResponse, toResponsesUsage } from './response.js';
export type { ResponseMeta } from './response.js';
export { ResponsesStreamTranslator } from './stream.js';
export { newResponseId } from './ids.js';
export type * from './types.js';
