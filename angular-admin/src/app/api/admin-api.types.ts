/**
 * The admin API's JSON: the backend's own wire types (libs/api-types), shared rather than copied,
 * so a change to a response shape breaks the UI's build instead of the UI at run time.
 */
export type * from '@llmproxy/api-types';
