export * from './app-config.js';
export { ENV_VARIABLES, parseTrustProxy } from './env.schema.js';
