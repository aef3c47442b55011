import { Injectable } from '@nestjs/common';
import type { ApiKeyWithUsage } from '@llmproxy/api-types';
import { ApiKeysService, type ApiKeyView, type CreateKeyInput, type UpdateKeyInput } from '@llmproxy/keys';
import { QuotaService, type KeyUsage } from '@llmproxy/quota';
import { ModelAllowList } from './model-allow-list.js';

export type { ApiKeyWithUsage };

/** The admin's view of keys: the shared key service plus usage, and allow-lists checked against Ollama. */
@Injectable()
export class AdminKeysService {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly quota: QuotaService,
    private readonly allowList: ModelAllowList,
  ) {}

  async list(): Promise<ApiKeyWithUsage[]> {
    const keys = await this.keys.list();
    const usage = await this.quota.usage(new Map(keys.map((key) => [key.id, limitsOf(key)])));
    return keys.map((key) => ({ ...key, usage: usage.get(key.id)! }));
  }

  async create(input: CreateKeyInput): Promise<{ key: string; apiKey: ApiKeyView }> {
    await this.allowList.check(input.allowedModels);
    return this.keys.create(input);
  }

  async update(id: number, input: UpdateKeyInput): Promise<ApiKeyWithUsage> {
    await this.keys.get(id); // 404 before asking Ollama about the models
    await this.allowList.check(input.allowedModels);
    return this.withUsage(await this.keys.update(id, input));
  }

  async setLimits(id: number, limits: Parameters<ApiKeysService['setLimits']>[1]): Promise<ApiKeyWithUsage> {
    return this.withUsage(await this.keys.setLimits(id, limits));
  }

  async rotate(id: number): Promise<ApiKeyWithUsage & { key: string }> {
    const { key, apiKey } = await this.keys.rotate(id);
    return { ...(await this.withUsage(apiKey)), key };
  }

  private async withUsage(key: ApiKeyView): Promise<ApiKeyWithUsage> {
    return { ...key, usage: await this.quota.usageOf(key.id, limitsOf(key)) };
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
