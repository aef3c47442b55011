import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import type { DataSource } from 'typeorm';
import type winston from 'winston';
import type { AppConfig } from '@llmproxy/config';
import { dialectForPath } from '@llmproxy/dialects';
import { UsageLog } from '@llmproxy/metering';
import { createSqlClient, describeOwner, openDatabase, type PostgresClient, SqliteClient, SqliteOwnerLease, type SqliteOwner } from '@llmproxy/persistence';
import { PostgresQuotaStore, QuotaService, SqliteQuotaStore } from '@llmproxy/quota';
import { defaultSettings, SettingsService } from '@llmproxy/settings';
import { Scheduler, UpstreamPool, UpstreamRegistry, type UpstreamState } from '@llmproxy/upstreams';
import { AdminAppModule } from './admin/admin-app.module.js';
import { serveOpenApi } from './admin/openapi/openapi.js';
import { AlertService } from './alerts/alert-service.js';
import { AlertWatcher } from './alerts/alert-watcher.js';
import { GatewayExpressAdapter } from './core/express-adapter.js';
import { ListenerDrain } from './core/listener-drain.js';
import { createAppLogger, NestWinstonLogger } from './core/logger.js';
import { GatewayMetrics } from './core/metrics.js';
import type { SharedResources, Upstreams } from './core/shared-resources.js';
import { UpstreamForwarder } from './proxy/forwarding/upstream-forwarder.js';
import { ProxyAppModule } from './proxy/proxy-app.module.js';

/** After the grace period: how long cut streams get to write their error and end before their sockets go. */
const CUT_WRITE_MS = 2_000;
/** How long the shutdown waits for the last settlements before closing the database anyway. */
const SETTLE_WAIT_MS = 5_000;

export interface RunningGateway {
  proxyUrl: string;
  adminUrl: string;
  shared: SharedResources;
  /** The admin listener's Nest app (tests read its routes). */
  adminApp: INestApplication;
  /**
   * The one shutdown path: both listeners stop accepting; requests and streams in flight get
   * `graceMs` (default SHUTDOWN_GRACE_S) to finish; the rest are cut with an in-band error; every
   * reservation is settled; then both apps, the database and the usage log are closed.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * The composition root: one DataSource and one logger for the process, two Nest applications on
 * two listeners, one way to shut everything down. Migrations run before anything listens.
 */
export async function startGateway(config: AppConfig, logger: winston.Logger = createAppLogger(config.logLevel)): Promise<RunningGateway> {
  const owner = new FileOwner(config, logger);
  // The file is claimed before the migrations too, so a newer version never migrates under a running one.
  const dataSource = await openDatabase(config.database, {
    beforeMigrations: (opened) => owner.claim(opened),
    checkpointInBackground: {
      onFailure: (error) => logger.warn(error.message, { context: 'database' }),
    },
  });
  try {
    await owner.claim(dataSource); // a first start: the migrations just made the lease table
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  const sql = createSqlClient(dataSource);
  const usageLog = new UsageLog({ file: config.logFile, retentionDays: config.logRetentionDays });
  const metrics = new GatewayMetrics();
  const sqliteStore = sql instanceof SqliteClient ? new SqliteQuotaStore(sql, owner.lease) : undefined;
  const quota = new QuotaService(sqliteStore ?? new PostgresQuotaStore(sql as PostgresClient), config.timeZone);
  if (sqliteStore && owner.lease) owner.releaseAbandoned(sqliteStore);
  const settings = new SettingsService(sql, defaultSettings(config.ollamaUrl, config.anthropicDefaultModel));
  await settings.seed();
  const alerts = new AlertService(sql, logger, { retryBaseMs: config.alertRetryBaseMs, sweepMs: config.alertCheckMs });
  const alertWatcher = new AlertWatcher(alerts, sql, quota, logger, config.alertCheckMs);
  const upstreams = await startUpstreams(config, dataSource, settings, metrics, logger, (upstream, up) => alertWatcher.upstreamHealth(upstream, up));
  const shared: SharedResources = { config, dataSource, sql, logger, usageLog, metrics, quota, upstreams, alerts };

  const nestLogger = new NestWinstonLogger(logger);
  const apps: INestApplication[] = [];
  try {
    const proxy = await NestFactory.create<NestExpressApplication>(ProxyAppModule.forRoot(shared), new GatewayExpressAdapter(), {
      bodyParser: false, // bodies are read after the key check, by JsonBodyInterceptor
      logger: ['error', 'warn'],
      abortOnError: false,
    });
    proxy.useLogger(nestLogger);
    harden(proxy, config);
    proxy.use(requestContext(metrics));
    apps.push(proxy);
    await proxy.listen(config.proxy.port, config.proxy.host);

    const proxyPort = (proxy.getHttpServer().address() as AddressInfo).port;
    const admin = await NestFactory.create<NestExpressApplication>(AdminAppModule.forRoot(shared, { host: config.proxy.host, port: proxyPort }), new GatewayExpressAdapter(), {
      logger: ['error', 'warn'],
      abortOnError: false,
      cors: config.allowedOrigins.length > 0 ? { origin: config.allowedOrigins, credentials: true } : false,
    });
    admin.useLogger(nestLogger);
    harden(admin, config);
    serveOpenApi(admin, proxy, { host: config.proxy.host, port: proxyPort });
    apps.push(admin);
    await admin.listen(config.admin.port, config.admin.host);
  } catch (error) {
    await Promise.allSettled(apps.map((app) => app.close()));
    upstreams.pool.stop();
    await Promise.allSettled([alertWatcher.stop(), alerts.stop()]);
    await quota.close().catch(() => undefined);
    owner.release();
    await dataSource.destroy();
    throw error;
  }
  const [proxy, admin] = apps as [INestApplication, INestApplication];
  const proxyUrl = urlOf(proxy, config.proxy.host);
  const adminUrl = urlOf(admin, config.admin.host);
  alerts.start();
  alertWatcher.start();
  logger.info(`proxy listening on ${listening(proxy, config.proxy.host, proxyUrl)}, admin on ${listening(admin, config.admin.host, adminUrl)}, database ${config.database.type}`, { context: 'llmproxy' });

  const drains = [new ListenerDrain(proxy.getHttpServer()), new ListenerDrain(admin.getHttpServer())];

  const shutDown = async (graceMs: number): Promise<void> => {
    const log = (level: 'info' | 'warn', message: string) => logger.log(level, message, { context: 'shutdown' });
    for (const drain of drains) drain.stopAccepting();
    const inFlight = drains.reduce((sum, drain) => sum + drain.inFlight, 0);
    if (inFlight > 0) log('info', `listeners closed; waiting up to ${graceMs / 1000} s for ${inFlight} request(s) in flight`);
    const deadline = Date.now() + graceMs;
    const finished = (await Promise.all(drains.map((drain) => drain.whenIdle(deadline)))).every(Boolean);
    if (!finished) {
      const cut = proxy.get(UpstreamForwarder).cutAll();
      log('warn', `grace period over: cutting ${cut} stream(s) to Ollama still running`);
      await Promise.all(drains.map((drain) => drain.whenIdle(Date.now() + CUT_WRITE_MS)));
    }
    for (const drain of drains) drain.closeAll();
    if (!(await quota.whenSettled(SETTLE_WAIT_MS))) {
      log('warn', `${quota.unsettled} reservation(s) could not be settled in time; they expire on their own`);
    }
    await Promise.allSettled([proxy.close(), admin.close()]);
    upstreams.pool.stop();
    await Promise.allSettled([alertWatcher.stop(), alerts.stop()]);
    await quota.close().catch((error: unknown) => log('warn', `could not write the last quota changes: ${String(error)}`));
    owner.release();
    if (dataSource.isInitialized) await dataSource.destroy();
    await usageLog.close();
  };

  let closing: Promise<void> | undefined;
  return {
    proxyUrl,
    adminUrl,
    shared,
    adminApp: admin,
    close: (options = {}) => (closing ??= shutDown(options.graceMs ?? config.shutdownGraceMs)),
  };
}

/**
 * The upstream list, seeded on the first start of a database from OLLAMA_URLS, else from the Ollama
 * URL used so far (the `ollama_url` setting, itself seeded from OLLAMA_URL); the pool polls each
 * server; the scheduler hands out slots. Health changes are logged and handed to `healthChanged` (alerts).
 */
async function startUpstreams(
  config: AppConfig,
  dataSource: DataSource,
  settings: SettingsService,
  metrics: GatewayMetrics,
  logger: winston.Logger,
  healthChanged: (upstream: UpstreamState, up: boolean) => void,
): Promise<Upstreams> {
  const registry = new UpstreamRegistry(dataSource);
  await registry.seed(config.ollamaUrls.length > 0 ? config.ollamaUrls : [(await settings.get()).ollamaUrl], config.upstreamMaxParallel);
  const pool: UpstreamPool = new UpstreamPool(
    () => registry.list(),
    { pollMs: config.upstreamPollMs },
    {
      changed: () => scheduler.dispatch(),
      health: (upstream, up) => {
        logger.log(up ? 'info' : 'warn', `upstream ${upstream.name} is ${up ? 'back' : 'out of rotation (circuit breaker open)'}`, { context: 'upstreams' });
        healthChanged(upstream, up);
      },
    },
  );
  const scheduler = new Scheduler(
    pool,
    { queueMax: config.queueMax, queueTimeoutMs: config.queueTimeoutMs },
    { waited: (upstream, seconds) => metrics.queueWaited(upstream.name, seconds), overloaded: (reason) => metrics.overloadedAnswered(reason) },
  );
  metrics.watchUpstreams(pool, scheduler);
  await pool.start();
  return { registry, pool, scheduler };
}

/**
 * On SQLite: the lease that makes this process the file's only server (SqliteOwnerLease). A process
 * that finds the file served waits up to SQLITE_OWNER_WAIT_S for its owner to stop (a container
 * restarted while the old one drains), then refuses to start naming it. PostgreSQL and an
 * in-memory SQLite database need none.
 */
class FileOwner {
  lease: SqliteOwnerLease | undefined;
  private previous: SqliteOwner | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly logger: winston.Logger,
  ) {}

  async claim(dataSource: DataSource): Promise<void> {
    const { database } = this.config;
    if (database.type !== 'sqlite' || database.path === ':memory:') return;
    this.lease ??= new SqliteOwnerLease((createSqlClient(dataSource) as SqliteClient).db, database.path);
    if (this.lease.held || !this.lease.tableExists()) return;
    const { previous } = await this.lease.claim(this.config.sqliteOwnerWaitMs, (message) => this.logger.warn(message, { context: 'llmproxy' }));
    this.previous = previous;
  }

  /** Before serving: what a previous owner left unsettled is released, uncharged. */
  releaseAbandoned(store: SqliteQuotaStore): void {
    const released = store.releaseAbandoned();
    const file = this.lease!.file;
    if (this.previous) {
      const gone = describeOwner(this.previous, file).replace(`${file} is served by`, 'from');
      this.logger.warn(`took over ${file} ${gone}: it is gone; released ${released} reservation(s) it left unsettled, uncharged`, { context: 'llmproxy' });
    } else if (released > 0) {
      this.logger.info(`released ${released} reservation(s) the previous process left unsettled on ${file}, uncharged`, { context: 'llmproxy' });
    }
  }

  release(): void {
    try {
      this.lease?.release();
    } catch (error) {
      this.logger.warn(`could not release the lease on the SQLite file (the next process takes it over once this pid is gone): ${String(error)}`, { context: 'shutdown' });
    }
  }
}

function harden(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  app.set('etag', false);
  // Behind a reverse proxy: request.ip is the client X-Forwarded-For names (login throttle, logs).
  app.set('trust proxy', config.trustProxy);
}

type ContextRequest = Request & { requestId: string; startedAt: number };

/** Request id and start time for the proxy's handlers; request count and duration for /metrics. */
function requestContext(metrics: GatewayMetrics) {
  // One listener function for every response ('close' fires once): no closure per request.
  function recordRequest(this: Response): void {
    const request = this.req as ContextRequest;
    // A client that left before the end: 499, as the usage log says.
    const status = this.writableFinished ? this.statusCode : 499;
    const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
    metrics.request(dialectForPath(request.path), route, status, (Date.now() - request.startedAt) / 1000);
  }
  return (request: Request, response: Response, next: NextFunction): void => {
    const contextRequest = request as ContextRequest;
    contextRequest.requestId = randomUUID();
    contextRequest.startedAt = Date.now();
    response.on('close', recordRequest);
    next();
  };
}

/** Where a listener is bound, as an operator reads it: `0.0.0.0:8000 (http://127.0.0.1:8000 here)` for every interface. */
function listening(app: INestApplication, host: string, url: string): string {
  if (host !== '0.0.0.0' && host !== '::') return url;
  const { port } = app.getHttpServer().address() as AddressInfo;
  return `${host === '::' ? '[::]' : host}:${port}, every interface (${url} from this machine)`;
}

function urlOf(app: INestApplication, host: string): string {
  const address = app.getHttpServer().address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}`;
}
