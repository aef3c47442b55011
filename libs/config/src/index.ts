export * from './app-config.js';
export { ENV_VARIABLES } from './env.schema.js';
