import { type DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { DataSource } from 'typeorm';
import { AuditLog } from '@llmproxy/audit';
import { ApiKeyLookup, ApiKeysService } from '@llmproxy/keys';
import { UsageLog } from '@llmproxy/metering';
import { SqlClient } from '@llmproxy/persistence';
import { QuotaService } from '@llmproxy/quota';
import { defaultSettings, SETTINGS_DEFAULTS, SettingsService } from '@llmproxy/settings';
import { Scheduler, UpstreamPool, UpstreamRegistry } from '@llmproxy/upstreams';
import { AlertService } from '../alerts/alert-service.js';
import { GatewayMetrics } from './metrics.js';
import { APP_LOGGER, type SharedResources } from './shared-resources.js';

/**
 * What both listeners share: the validated config (through @nestjs/config), the one DataSource and
 * SQL client, the loggers, the metrics registry, the quota ledger, and the services built on them. Provided by value, so closing one Nest
 * application never closes the DataSource under the other (main.ts closes it last).
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(shared: SharedResources): DynamicModule {
    const { config } = shared;
    return {
      module: CoreModule,
      imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ ...config })], cache: true })],
      providers: [
        { provide: DataSource, useValue: shared.dataSource },
        { provide: SqlClient, useValue: shared.sql },
        { provide: UsageLog, useValue: shared.usageLog },
        { provide: APP_LOGGER, useValue: shared.logger },
        { provide: GatewayMetrics, useValue: shared.metrics },
        { provide: SETTINGS_DEFAULTS, useValue: defaultSettings(config.ollamaUrl, config.anthropicDefaultModel) },
        { provide: QuotaService, useValue: shared.quota },
        { provide: UpstreamRegistry, useValue: shared.upstreams.registry },
        { provide: UpstreamPool, useValue: shared.upstreams.pool },
        { provide: Scheduler, useValue: shared.upstreams.scheduler },
        { provide: AlertService, useValue: shared.alerts },
        AuditLog,
        SettingsService,
        ApiKeyLookup,
        ApiKeysService,
      ],
      exports: [ConfigModule, DataSource, SqlClient, UsageLog, APP_LOGGER, GatewayMetrics, QuotaService, UpstreamRegistry, UpstreamPool, Scheduler, AlertService, AuditLog, SettingsService, ApiKeyLookup, ApiKeysService],
    };
  }
}
