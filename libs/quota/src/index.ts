export * from './windows.js';
export * from './admission.js';
export * from './quota-store.js';
export { SqliteQuotaStore } from './sqlite-quota-store.js';
export { PostgresQuotaStore, ADMIT, ADMIT_MANY, SETTLE_MANY, admitRowToResult, admitRowCounters } from './postgres-quota-store.js';
export * from './rate-limit-headers.js';
export * from './quota.service.js';
