import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags, type SchemaObject } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../common/public.decorator.js';
import { ReadinessCheck } from './readiness.js';

/**
 * Probes for orchestrators and load balancers, on both listeners, without credentials. They say
 * whether the process is alive and whether it can serve — nothing about versions, models or keys.
 */
const OK: SchemaObject = { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] };

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(private readonly readiness: ReadinessCheck) {}

  /** Liveness: the process answers HTTP. */
  @Public()
  @Get('healthz')
  @ApiOkResponse({ description: 'The process answers HTTP', schema: OK })
  healthz(@Res() response: Response): void {
    response.setHeader('cache-control', 'no-store');
    response.status(200).json({ status: 'ok' });
  }

  /** Readiness: the database and Ollama both answer (503 naming which does not). */
  @Public()
  @Get('readyz')
  @ApiOkResponse({ description: 'The database and at least one enabled Ollama server answer', schema: OK })
  @ApiServiceUnavailableResponse({
    description: 'Not ready: `checks` names what does not answer',
    schema: {
      type: 'object',
      properties: {
        status: { type: 'string', enum: ['unavailable'] },
        checks: { type: 'object', properties: { database: { type: 'boolean' }, ollama: { type: 'boolean' } }, required: ['database', 'ollama'] },
      },
      required: ['status', 'checks'],
    },
  })
  async readyz(@Res() response: Response): Promise<void> {
    const { ready, checks } = await this.readiness.check();
    response.setHeader('cache-control', 'no-store');
    if (ready) response.status(200).json({ status: 'ok' });
    else response.status(503).json({ status: 'unavailable', checks });
  }
}
