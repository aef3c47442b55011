export * from './api-key.js';
export * from './key-material.js';
export { ApiKeyLookup, type KeyCheck } from './api-key-lookup.js';
export { ApiKeysService, toView, type ApiKeyView, type CreateKeyInput, type UpdateKeyInput } from './api-keys.service.js';
