export * from './audit-log.js';
export * from './changes.js';
export * from './audit-actor.js';
