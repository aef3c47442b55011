import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Public } from '../common/public.decorator.js';
import { ReadinessCheck } from './readiness.js';

/**
 * Probes for orchestrators and load balancers, on both listeners, without credentials. They say
 * whether the process is alive and whether it can serve — nothing about versions, models or keys.
 */
@Controller()
export class HealthController {
  constructor(private readonly readiness: ReadinessCheck) {}

  /** Liveness: the process answers HTTP. */
  @Public()
  @Get('healthz')
  healthz(@Res() response: Response): void {
    response.setHeader('cache-control', 'no-store');
    response.status(200).json({ status: 'ok' });
  }

  /** Readiness: the database and Ollama both answer (503 naming which does not). */
  @Public()
  @Get('readyz')
  async readyz(@Res() response: Response): Promise<void> {
    const { ready, checks } = await this.readiness.check();
    response.setHeader('cache-control', 'no-store');
    if (ready) response.status(200).json({ status: 'ok' });
    else response.status(503).json({ status: 'unavailable', checks });
  }
}
