export * from './entities/index.js';
export { migrations } from './migrations/index.js';
export { dataSourceOptions, openDatabase, type OpenDatabaseOptions } from './data-source.js';
export * from './sql-client.js';
export { Batcher } from './batcher.js';
export { ScopedStorage } from './scoped-storage.js';
export * from './sqlite-owner.js';
