import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Patch, Post, Put } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeysService, type ApiKeyView } from '@llmproxy/keys';
import { AdminKeysService, type ApiKeyWithUsage } from './admin-keys.service.js';
import { ApiErrors } from '../../common/openapi/error-body.js';
import { ApiKeyViewSchema, ApiKeyWithSecretSchema, ApiKeyWithUsageSchema, RotatedApiKeySchema } from './api-key.schema.js';
import { CreateApiKeyDto } from './create-api-key.dto.js';
import { UpdateApiKeyDto } from './update-api-key.dto.js';
import { UpdateQuotaDto } from './update-quota.dto.js';

export type { ApiKeyWithUsage };

@ApiTags('keys')
@Controller('api/api-keys')
export class ApiKeysController {
  constructor(
    private readonly admin: AdminKeysService,
    private readonly keys: ApiKeysService,
  ) {}

  @Get()
  @ApiOkResponse({ type: ApiKeyWithUsageSchema, isArray: true, description: 'Every key with its usage in the current day and month.' })
  list(): Promise<ApiKeyWithUsage[]> {
    return this.admin.list();
  }

  /** Answers the plaintext key once, as `key`; only its hash is stored. */
  @Post()
  @ApiCreatedResponse({ type: ApiKeyWithSecretSchema, description: 'The new key, with its plaintext `key` (answered this once).' })
  @ApiErrors(400, 409, 502)
  async create(@Body() dto: CreateApiKeyDto): Promise<ApiKeyView & { key: string }> {
    const { key, apiKey } = await this.admin.create({
      name: dto.name,
      expiresAt: dto.expires_at ?? null,
      allowedModels: dto.allowed_models ?? null,
      maxConcurrent: dto.max_concurrent ?? null,
      queueWeight: dto.queue_weight,
      limits: {
        dailyTokens: dto.daily_token_limit ?? null,
        monthlyTokens: dto.monthly_token_limit ?? null,
        dailyRequests: dto.daily_request_limit ?? null,
        monthlyRequests: dto.monthly_request_limit ?? null,
      },
    });
    return { ...apiKey, key };
  }

  @Patch(':id')
  @ApiOkResponse({ type: ApiKeyWithUsageSchema })
  @ApiErrors(400, 404, 409, 502)
  update(@Param('id', ParseIntPipe) id: number, @Body() dto: UpdateApiKeyDto): Promise<ApiKeyWithUsage> {
    return this.admin.update(id, {
      name: dto.name,
      expiresAt: dto.expires_at,
      allowedModels: dto.allowed_models,
      maxConcurrent: dto.max_concurrent,
      queueWeight: dto.queue_weight,
    });
  }

  @Patch(':id/quota')
  @ApiOkResponse({ type: ApiKeyWithUsageSchema })
  @ApiErrors(400, 404)
  updateQuota(@Param('id', ParseIntPipe) id: number, @Body() dto: UpdateQuotaDto): Promise<ApiKeyWithUsage> {
    return this.admin.setLimits(id, {
      dailyTokens: dto.daily_token_limit,
      monthlyTokens: dto.monthly_token_limit,
      dailyRequests: dto.daily_request_limit,
      monthlyRequests: dto.monthly_request_limit,
    });
  }

  /** A new secret, answered once as `key`; the old one is refused from now on. Id, limits and usage stay. */
  @Post(':id/rotate')
  @HttpCode(200)
  @ApiOkResponse({ type: RotatedApiKeySchema, description: 'The key with its new plaintext `key` (answered this once).' })
  @ApiErrors(400, 404)
  rotate(@Param('id', ParseIntPipe) id: number): Promise<ApiKeyWithUsage & { key: string }> {
    return this.admin.rotate(id);
  }

  @Put(':id/activate')
  @ApiOkResponse({ type: ApiKeyViewSchema })
  @ApiErrors(400, 404)
  activate(@Param('id', ParseIntPipe) id: number): Promise<ApiKeyView> {
    return this.keys.setActive(id, true);
  }

  @Put(':id/deactivate')
  @ApiOkResponse({ type: ApiKeyViewSchema })
  @ApiErrors(400, 404)
  deactivate(@Param('id', ParseIntPipe) id: number): Promise<ApiKeyView> {
    return this.keys.setActive(id, false);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Deleted; its usage history stays.' })
  @ApiErrors(400, 404)
  remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    return this.keys.delete(id);
  }
}
