import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { GatewayMetrics } from '../../core/metrics.js';
import { AcceptsMetricsToken } from './metrics-token.js';

/** Prometheus exposition of the whole process (both listeners share one registry). */
@ApiTags('metrics')
@Controller()
export class MetricsController {
  constructor(private readonly metrics: GatewayMetrics) {}

  @AcceptsMetricsToken()
  @Get('metrics')
  @ApiSecurity('admin')
  @ApiSecurity('metrics')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition', content: { 'text/plain': { schema: { type: 'string' } } } })
  async exposition(@Res() response: Response): Promise<void> {
    const { contentType, body } = await this.metrics.expose();
    response.setHeader('cache-control', 'no-store');
    response.type(contentType).send(body);
  }
}
