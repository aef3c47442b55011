import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CoreModule } from '../core/core.module.js';
import { HealthModule } from '../health/health.module.js';
import type { SharedResources } from '../core/shared-resources.js';
import { AnthropicController } from './anthropic/anthropic.controller.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { JsonBodyInterceptor } from './body/json-body.interceptor.js';
import { ProxyExceptionFilter } from './errors/proxy-exception.filter.js';
import { UpstreamDispatch } from './forwarding/upstream-dispatch.js';
import { UpstreamForwarder } from './forwarding/upstream-forwarder.js';
import { KeyHolderPageController } from './key-holder-page/key-holder-page.controller.js';
import { ModelResolver } from './models/model-resolver.js';
import { OllamaNativeController } from './native/ollama-native.controller.js';
import { OpenAiController } from './openai/openai.controller.js';
import { InferenceGate } from './quota/inference-gate.js';
import { QuotaInterceptor } from './quota/quota.interceptor.js';
import { QuotaMaintenance } from './quota/quota-maintenance.js';
import { ResponsesController } from './responses/responses.controller.js';
import { UsageSettler } from './quota/usage-settler.js';
import { UsageController } from './usage/usage.controller.js';

/** The public listener: the three client dialects behind the API-key guard; health probes; the key holder's page (/me). */
@Module({})
export class ProxyAppModule {
  static forRoot(shared: SharedResources): DynamicModule {
    return {
      module: ProxyAppModule,
      imports: [CoreModule.forRoot(shared), HealthModule],
      controllers: [OllamaNativeController, UsageController, AnthropicController, OpenAiController, ResponsesController, KeyHolderPageController],
      providers: [
        UpstreamDispatch,
        UpstreamForwarder,
        InferenceGate,
        ModelResolver,
        UsageSettler,
        QuotaMaintenance,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        // Order matters: the body is read (after auth); the quota interceptor frames the handler, in
        // which the dialect validates and the forwarder admits through the InferenceGate.
        { provide: APP_INTERCEPTOR, useClass: JsonBodyInterceptor },
        { provide: APP_INTERCEPTOR, useClass: QuotaInterceptor },
        { provide: APP_FILTER, useClass: ProxyExceptionFilter },
      ],
    };
  }
}
