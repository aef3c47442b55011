import type { DataSource } from 'typeorm';
import type winston from 'winston';
import type { AppConfig } from '@llmproxy/config';
import type { UsageLog } from '@llmproxy/metering';
import type { SqlClient } from '@llmproxy/persistence';
import type { QuotaService } from '@llmproxy/quota';
import type { GatewayMetrics } from './metrics.js';

/** Created once by the composition root and handed to both Nest applications. */
export interface SharedResources {
  config: AppConfig;
  dataSource: DataSource;
  sql: SqlClient;
  logger: winston.Logger;
  usageLog: UsageLog;
  metrics: GatewayMetrics;
  /**
   * One quota ledger for the process: on SQLite it holds the counters in memory (see
   * SqliteQuotaStore), so the admin's usage figures must come from the same instance as the proxy's.
   */
  quota: QuotaService;
}

/** Injection token of the process's winston logger. */
export const APP_LOGGER = Symbol('APP_LOGGER');
