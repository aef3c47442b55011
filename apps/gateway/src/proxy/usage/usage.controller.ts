import { Controller, Get, Req } from '@nestjs/common';
import { QuotaService, type KeyUsage } from '@llmproxy/quota';
import type { ProxyRequest } from '../proxy-request.js';

/** Self-service on the proxy port: a key holder reads their own limits, usage and resets — nothing of any other key. */
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly quota: QuotaService) {}

  @Get()
  async own(@Req() request: ProxyRequest): Promise<{ key: { id: number; name: string }; time_zone: string } & KeyUsage> {
    const key = request.apiKey!;
    const usage = await this.quota.usageOf(key.id, key.limits);
    return { key: { id: key.id, name: key.name }, time_zone: this.quota.timeZone, ...usage };
  }
}
