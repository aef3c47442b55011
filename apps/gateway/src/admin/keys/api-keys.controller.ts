import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Post, Put } from '@nestjs/common';
import { ApiKeysService, type ApiKeyView } from '@llmproxy/keys';
import { CreateApiKeyDto } from './create-api-key.dto.js';

@Controller('api/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Get()
  list(): Promise<ApiKeyView[]> {
    return this.keys.list();
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
