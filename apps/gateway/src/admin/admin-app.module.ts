import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule, ValidationPipe } from '@nestjs/common';
import { APP_GUARD, APP_PIPE } from '@nestjs/core';
import { CoreModule } from '../core/core.module.js';
import { HealthModule } from '../health/health.module.js';
import { AdminUiModule } from './ui/admin-ui.module.js';
import type { SharedResources } from '../core/shared-resources.js';
import { AccountsController } from './accounts/accounts.controller.js';
import { AccountsService } from './accounts/accounts.service.js';
import { MeController } from './accounts/me.controller.js';
import { AlertsController } from './alerts/alerts.controller.js';
import { AlertWebhooksService } from './alerts/alert-webhooks.service.js';
import { AuditController } from './audit/audit.controller.js';
import { AuditScopeMiddleware } from './auth/audit-scope.middleware.js';
import { AdminAuthService } from './auth/admin-auth.service.js';
import { BuiltInAdminRotation } from './auth/built-in-admin-rotation.js';
import { AdminGuard } from './auth/admin.guard.js';
import { AdminPassword } from './auth/admin-password.js';
import { AuthController } from './auth/auth.controller.js';
import { OidcController } from './auth/oidc/oidc.controller.js';
import { OidcLoginService } from './auth/oidc/oidc-login.service.js';
import { AdminKeysService } from './keys/admin-keys.service.js';
import { ApiKeysController } from './keys/api-keys.controller.js';
import { ModelAllowList } from './keys/model-allow-list.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsToken } from './metrics/metrics-token.js';
import { OllamaModelsController } from './ollama/ollama-models.controller.js';
import { KnownModels } from './ollama/known-models.js';
import { OllamaProbe } from './ollama/ollama-probe.js';
import { PROXY_LISTENER, type ProxyListener } from './proxy-info/proxy-info.js';
import { ProxyInfoController } from './proxy-info/proxy-info.controller.js';
import { SettingsController } from './settings/settings.controller.js';
import { SettingsEditor } from './settings/settings-editor.service.js';
import { OverviewController } from './overview/overview.controller.js';
import { OverviewService } from './overview/overview.service.js';
import { UpstreamsController } from './upstreams/upstreams.controller.js';
import { UsageController } from './usage/usage.controller.js';
import { UsageReportService } from './usage/usage-report.service.js';

/** Every controller of the admin listener; the tests enumerate its routes from here. */
export const ADMIN_CONTROLLERS = [
  MetricsController,
  AuthController,
  OidcController,
  MeController,
  AccountsController,
  ApiKeysController,
  SettingsController,
  OllamaModelsController,
  ProxyInfoController,
  UsageController,
  AuditController,
  UpstreamsController,
  OverviewController,
  AlertsController,
];

/** The admin listener: login, accounts, keys, quotas, settings, usage, audit and metrics behind the admin guard; health probes. */
@Module({})
export class AdminAppModule implements NestModule {
  /** `proxy`: where the proxy listener really listens (its bound port), for /api/proxy-info. */
  static forRoot(shared: SharedResources, proxy: ProxyListener): DynamicModule {
    return {
      module: AdminAppModule,
      // The UI last: its index.html fallback must not shadow any API route.
      imports: [CoreModule.forRoot(shared), HealthModule, AdminUiModule.forRoot()],
      controllers: ADMIN_CONTROLLERS,
      providers: [
        { provide: PROXY_LISTENER, useValue: proxy },
        AdminPassword,
        MetricsToken,
        AdminAuthService,
        BuiltInAdminRotation,
        OidcLoginService,
        AccountsService,
        OllamaProbe,
        KnownModels,
        ModelAllowList,
        AdminKeysService,
        SettingsEditor,
        UsageReportService,
        OverviewService,
        AlertWebhooksService,
        { provide: APP_GUARD, useClass: AdminGuard },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
        },
      ],
    };
  }

  /** Every admin request in an audit scope of its own (the guard names the account in it). */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(AuditScopeMiddleware).forRoutes(...ADMIN_CONTROLLERS);
  }
}
