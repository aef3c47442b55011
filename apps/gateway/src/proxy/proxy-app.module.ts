import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CoreModule } from '../core/core.module.js';
import type { SharedResources } from '../core/shared-resources.js';
import { ApiKeyGuard } from './auth/api-key.guard.js';
import { JsonBodyInterceptor } from './body/json-body.interceptor.js';
import { ProxyExceptionFilter } from './errors/proxy-exception.filter.js';
import { UpstreamForwarder } from './forwarding/upstream-forwarder.js';
import { OllamaNativeController } from './native/ollama-native.controller.js';

/** The public listener: the three client dialects, behind the API-key guard. */
@Module({})
export class ProxyAppModule {
  static forRoot(shared: SharedResources): DynamicModule {
    return {
      module: ProxyAppModule,
      imports: [CoreModule.forRoot(shared)],
      controllers: [OllamaNativeController],
      providers: [
        UpstreamForwarder,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_INTERCEPTOR, useClass: JsonBodyInterceptor },
        { provide: APP_FILTER, useClass: ProxyExceptionFilter },
      ],
    };
  }
}
