import { Injectable, NotFoundException } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { ApiKeyEntity } from '@llmproxy/persistence';
import type { QuotaLimits } from './api-key.js';
import { generateKey } from './key-material.js';

export interface CreateKeyInput {
  name: string;
  expiresAt?: Date | null;
  allowedModels?: string[] | null;
  maxConcurrent?: number | null;
  limits?: Partial<QuotaLimits>;
}

/** A key as the admin API and CLI show it (snake_case, as the seed's API): never the secret, never the hash. */
export interface ApiKeyView {
  id: number;
  name: string;
  key_prefix: string;
  is_active: boolean;
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
  allowed_models: string[] | null;
  max_concurrent: number | null;
  daily_token_limit: number | null;
  monthly_token_limit: number | null;
  daily_request_limit: number | null;
  monthly_request_limit: number | null;
}

/** Key management for the admin API and the CLI (the control plane: repositories are fine here). */
@Injectable()
export class ApiKeysService {
  private readonly repository: Repository<ApiKeyEntity>;

  constructor(dataSource: DataSource) {
    this.repository = dataSource.getRepository(ApiKeyEntity);
  }

  /** Creates a key and returns its plaintext, which exists nowhere else afterwards. */
  async create(input: CreateKeyInput): Promise<{ key: string; apiKey: ApiKeyView }> {
    const material = generateKey();
    const entity = this.repository.create({
      name: input.name,
      keyHash: material.hash,
      keyPrefix: material.prefix,
      isActive: true,
      expiresAt: input.expiresAt ?? null,
      allowedModels: input.allowedModels ?? null,
      maxConcurrent: input.maxConcurrent ?? null,
      dailyTokenLimit: input.limits?.dailyTokens ?? null,
      monthlyTokenLimit: input.limits?.monthlyTokens ?? null,
      dailyRequestLimit: input.limits?.dailyRequests ?? null,
      monthlyRequestLimit: input.limits?.monthlyRequests ?? null,
    });
    const saved = await this.repository.save(entity);
    return { key: material.plaintext, apiKey: toView(saved) };
  }

  async list(): Promise<ApiKeyView[]> {
    const keys = await this.repository.find({ order: { id: 'ASC' } });
    return keys.map(toView);
  }

  async get(id: number): Promise<ApiKeyView> {
    return toView(await this.entity(id));
  }

  async setActive(id: number, isActive: boolean): Promise<ApiKeyView> {
    const entity = await this.entity(id);
    entity.isActive = isActive;
    return toView(await this.repository.save(entity));
  }

  /** Changes the given limits (null = unlimited); absent fields stay as they are. */
  async setLimits(id: number, limits: Partial<QuotaLimits>): Promise<ApiKeyView> {
    const entity = await this.entity(id);
    if (limits.dailyTokens !== undefined) entity.dailyTokenLimit = limits.dailyTokens;
    if (limits.monthlyTokens !== undefined) entity.monthlyTokenLimit = limits.monthlyTokens;
    if (limits.dailyRequests !== undefined) entity.dailyRequestLimit = limits.dailyRequests;
    if (limits.monthlyRequests !== undefined) entity.monthlyRequestLimit = limits.monthlyRequests;
    return toView(await this.repository.save(entity));
  }

  async delete(id: number): Promise<void> {
    const result = await this.repository.delete({ id });
    if (!result.affected) throw new NotFoundException(`API key ${id} not found`);
  }

  private async entity(id: number): Promise<ApiKeyEntity> {
    const entity = await this.repository.findOneBy({ id });
    if (!entity) throw new NotFoundException(`API key ${id} not found`);
    return entity;
  }
}

export function toView(entity: ApiKeyEntity): ApiKeyView {
  return {
    id: entity.id,
    name: entity.name,
    key_prefix: entity.keyPrefix,
    is_active: entity.isActive,
    expires_at: entity.expiresAt?.toISOString() ?? null,
    created_at: entity.createdAt.toISOString(),
    last_used_at: entity.lastUsedAt?.toISOString() ?? null,
    allowed_models: entity.allowedModels,
    max_concurrent: entity.maxConcurrent,
    daily_token_limit: entity.dailyTokenLimit,
    monthly_token_limit: entity.monthlyTokenLimit,
    daily_request_limit: entity.dailyRequestLimit,
    monthly_request_limit: entity.monthlyRequestLimit,
  };
}
