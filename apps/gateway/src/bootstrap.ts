import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import type winston from 'winston';
import type { AppConfig } from '@llmproxy/config';
import { UsageLog } from '@llmproxy/metering';
import { createSqlClient, openDatabase } from '@llmproxy/persistence';
import { defaultSettings, SettingsService } from '@llmproxy/settings';
import { AdminAppModule } from './admin/admin-app.module.js';
import { createAppLogger, NestWinstonLogger } from './core/logger.js';
import type { SharedResources } from './core/shared-resources.js';
import { ProxyAppModule } from './proxy/proxy-app.module.js';

export interface RunningGateway {
  proxyUrl: string;
  adminUrl: string;
  shared: SharedResources;
  /** Stops both listeners (in-flight requests finish or are cut by the client), then the database, then the logs. */
  close(): Promise<void>;
}

/**
 * The composition root: one DataSource and one logger for the process, two Nest applications on
 * two listeners, one way to shut everything down. Migrations run before anything listens.
 */
export async function startGateway(config: AppConfig, logger: winston.Logger = createAppLogger(config.logLevel)): Promise<RunningGateway> {
  const dataSource = await openDatabase(config.database);
  const sql = createSqlClient(dataSource);
  const usageLog = new UsageLog({ file: config.logFile, retentionDays: config.logRetentionDays });
  const shared: SharedResources = { config, dataSource, sql, logger, usageLog };
  await new SettingsService(sql, defaultSettings(config.ollamaUrl, config.anthropicDefaultModel)).seed();

  const nestLogger = new NestWinstonLogger(logger);
  const apps: INestApplication[] = [];
  try {
    const proxy = await NestFactory.create<NestExpressApplication>(ProxyAppModule.forRoot(shared), {
      bodyParser: false, // bodies are read after the key check, by JsonBodyInterceptor
      logger: ['error', 'warn'],
      abortOnError: false,
    });
    proxy.useLogger(nestLogger);
    harden(proxy);
    proxy.use(requestContext);
    apps.push(proxy);
    await proxy.listen(config.proxy.port, config.proxy.host);

    const proxyPort = (proxy.getHttpServer().address() as AddressInfo).port;
    const admin = await NestFactory.create<NestExpressApplication>(AdminAppModule.forRoot(shared, { host: config.proxy.host, port: proxyPort }), {
      logger: ['error', 'warn'],
      abortOnError: false,
      cors: config.allowedOrigins.length > 0 ? { origin: config.allowedOrigins, credentials: true } : false,
    });
    admin.useLogger(nestLogger);
    harden(admin);
    apps.push(admin);
    await admin.listen(config.admin.port, config.admin.host);
  } catch (error) {
    await Promise.allSettled(apps.map((app) => app.close()));
    await dataSource.destroy();
    throw error;
  }
  const [proxy, admin] = apps as [INestApplication, INestApplication];
  const proxyUrl = urlOf(proxy, config.proxy.host);
  const adminUrl = urlOf(admin, config.admin.host);
  logger.info(`proxy listening on ${proxyUrl}, admin on ${adminUrl}, database ${config.database.type}`, { context: 'llmproxy' });

  let closing: Promise<void> | undefined;
  return {
    proxyUrl,
    adminUrl,
    shared,
    close: () =>
      (closing ??= (async () => {
        await Promise.allSettled([proxy.close(), admin.close()]);
        await dataSource.destroy();
        await usageLog.close();
      })()),
  };
}

function harden(app: NestExpressApplication): void {
  app.disable('x-powered-by');
  app.set('etag', false);
}

function requestContext(request: Request, _response: Response, next: NextFunction): void {
  const proxyRequest = request as Request & { requestId: string; startedAt: number };
  proxyRequest.requestId = randomUUID();
  proxyRequest.startedAt = Date.now();
  next();
}

function urlOf(app: INestApplication, host: string): string {
  const address = app.getHttpServer().address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}`;
}
