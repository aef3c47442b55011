import type { DataSource } from 'typeorm';
import type winston from 'winston';
import type { AppConfig } from '@llmproxy/config';
import type { UsageLog } from '@llmproxy/metering';
import type { SqlClient } from '@llmproxy/persistence';
import type { QuotaService } from '@llmproxy/quota';
import type { Scheduler, UpstreamPool, UpstreamRegistry } from '@llmproxy/upstreams';
import type { AlertService } from '../alerts/alert-service.js';
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
  /**
   * The Ollama servers: their list in the database (shared by replicas), what this process polled of
   * each (models, loaded models, breaker), and its slots and fair queue (per process).
   */
  upstreams: Upstreams;
  /** Alerts to the admins' webhooks (queue and deliveries; the admin API's "send test"). */
  alerts: AlertService;
}

export interface Upstreams {
  registry: UpstreamRegistry;
  pool: UpstreamPool;
  scheduler: Scheduler;
}

/** Injection token of the process's winston logger. */
export const APP_LOGGER = Symbol('APP_LOGGER');
