import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Patch, Post, Put } from '@nestjs/common';
import { ApiKeysService, type ApiKeyView } from '@llmproxy/keys';
import { QuotaService, type KeyUsage } from '@llmproxy/quota';
import { CreateApiKeyDto } from './create-api-key.dto.js';
import { UpdateQuotaDto } from './update-quota.dto.js';

/** A key with its usage in the current day and month windows and when each resets. */
export type ApiKeyWithUsage = ApiKeyView & { usage: KeyUsage };

@Controller('api/api-keys')
export class ApiKeysController {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly quota: QuotaService,
  ) {}

  @Get()
  async list(): Promise<ApiKeyWithUsage[]> {
    const keys = await this.keys.list();
    const usage = await this.quota.usage(new Map(keys.map((key) => [key.id, limitsOf(key)])));
    return keys.map((key) => ({ ...key, usage: usage.get(key.id)! }));
  }

  @Patch(':id/quota')
  async updateQuota(@Param('id', ParseIntPipe) id: number, @Body() dto: UpdateQuotaDto): Promise<ApiKeyWithUsage> {
    const key = await this.keys.setLimits(id, {
      dailyTokens: dto.daily_token_limit,
      monthlyTokens: dto.monthly_token_limit,
      dailyRequests: dto.daily_request_limit,
      monthlyRequests: dto.monthly_request_limit,
    });
    return { ...key, usage: await this.quota.usageOf(id, limitsOf(key)) };
  }

  /** Answers the plaintext key once, as `key`; only its hash is stored. */
  @Post()
  async create(@Body() dto: CreateApiKeyDto): Promise<ApiKeyView & { key: string }> {
    const { key, apiKey } = await this.keys.create({
      name: dto.name,
      expiresAt: dto.expires_at ?? null,
      allowedModels: dto.allowed_models ?? null,
      maxConcurrent: dto.max_concurrent ?? null,
      limits: {
        dailyTokens: dto.daily_token_limit ?? null,
        monthlyTokens: dto.monthly_token_limit ?? null,
        dailyRequests: dto.daily_request_limit ?? null,
        monthlyRequests: dto.monthly_request_limit ?? null,
      },
    });
    return { ...apiKey, key };
  }

  @Put(':id/activate')
  activate(@Param('id', ParseIntPipe) id: number): Promise<ApiKeyView> {
    return this.keys.setActive(id, true);
  }

  @Put(':id/deactivate')
  deactivate(@Param('id', ParseIntPipe) id: number): Promise<ApiKeyView> {
    return this.keys.setActive(id, false);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    return this.keys.delete(id);
  }
}

function limitsOf(key: ApiKeyView) {
  return {
    dailyTokens: key.daily_token_limit,
    monthlyTokens: key.monthly_token_limit,
    dailyRequests: key.daily_request_limit,
    monthlyRequests: key.monthly_request_limit,
  };
}
