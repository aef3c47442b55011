import { Module } from '@nestjs/common';
import { HealthController } from './health.controller.js';
import { ReadinessCheck } from './readiness.js';

/** GET /healthz and /readyz; imported by both root modules (CoreModule provides what it needs). */
@Module({
  controllers: [HealthController],
  providers: [ReadinessCheck],
})
export class HealthModule {}
