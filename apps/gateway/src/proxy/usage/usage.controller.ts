import { Controller, Get, Req } from '@nestjs/common';
import { ApiOkResponse, ApiResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { QuotaService, type KeyUsage } from '@llmproxy/quota';
import type { ProxyRequest } from '../proxy-request.js';
import { OpenAiErrorSchema, OwnUsageSchema } from './usage.schema.js';

/** Self-service on the proxy port: a key holder reads their own limits, usage and resets — nothing of any other key. */
@ApiTags('key holders')
@ApiSecurity('key')
@ApiSecurity('key-header')
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly quota: QuotaService) {}

  @Get()
  @ApiOkResponse({ type: OwnUsageSchema, description: "The calling key's limits, usage and resets; nothing of any other key." })
  @ApiResponse({ status: 401, type: OpenAiErrorSchema, description: 'Missing, unknown, deactivated or expired key' })
  @ApiResponse({ status: 503, type: OpenAiErrorSchema, description: 'The gateway cannot reach its database' })
  async own(@Req() request: ProxyRequest): Promise<{ key: { id: number; name: string }; time_zone: string } & KeyUsage> {
    const key = request.apiKey!;
    const usage = await this.quota.usageOf(key.id, key.limits);
    return { key: { id: key.id, name: key.name }, time_zone: this.quota.timeZone, ...usage };
  }
}
