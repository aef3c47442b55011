import type { Overview } from '@llmproxy/api-types';
import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { OverviewSchema } from './overview.schema.js';
import { OverviewService } from './overview.service.js';

@ApiTags('overview')
@Controller('api/overview')
export class OverviewController {
  constructor(private readonly overview: OverviewService) {}

  @Get()
  @ApiOkResponse({ type: OverviewSchema })
  get(): Promise<Overview> {
    return this.overview.overview();
  }
}
