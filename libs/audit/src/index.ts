export * from './audit-log.js';
export * from './changes.js';
