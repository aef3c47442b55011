import { type DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_GUARD, APP_PIPE } from '@nestjs/core';
import { CoreModule } from '../core/core.module.js';
import type { SharedResources } from '../core/shared-resources.js';
import { AdminGuard } from './auth/admin.guard.js';
import { ApiKeysController } from './keys/api-keys.controller.js';

/** The admin listener: key, quota and settings management behind the admin password. */
@Module({})
export class AdminAppModule {
  static forRoot(shared: SharedResources): DynamicModule {
    return {
      module: AdminAppModule,
      imports: [CoreModule.forRoot(shared)],
      controllers: [ApiKeysController],
      providers: [
        { provide: APP_GUARD, useClass: AdminGuard },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
        },
      ],
    };
  }
}
