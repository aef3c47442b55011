export * from './entities/index.js';
export { migrations } from './migrations/index.js';
export { dataSourceOptions, openDatabase, type OpenDatabaseOptions } from './data-source.js';
export * from './sql-client.js';
export { Batcher } from './batcher.js';
export { SqliteCheckpointer, type CheckpointResult } from './sqlite-checkpointer.js';
export { ScopedStorage } from './scoped-storage.js';
export { namesInTurn } from './names-in-turn.js';
export * from './sqlite-owner.js';
