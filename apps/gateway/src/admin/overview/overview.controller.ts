import type { Overview } from '@llmproxy/api-types';
import { Controller, Get } from '@nestjs/common';
import { OverviewService } from './overview.service.js';

@Controller('api/overview')
export class OverviewController {
  constructor(private readonly overview: OverviewService) {}

  @Get()
  get(): Promise<Overview> {
    return this.overview.overview();
  }
}
