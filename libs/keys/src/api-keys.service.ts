import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import type { ApiKeyView } from '@llmproxy/api-types';
import { DataSource, type Repository } from 'typeorm';
import { AuditLog, allFields, diffFields, type AuditAction } from '@llmproxy/audit';
import { ApiKeyEntity, namesInTurn } from '@llmproxy/persistence';
import type { QuotaLimits } from './api-key.js';
import { generateKey } from './key-material.js';

export interface CreateKeyInput {
  name: string;
  expiresAt?: Date | null;
  allowedModels?: string[] | null;
  maxConcurrent?: number | null;
  /** Turns per round in the scheduler's fair queue; default 1. */
  queueWeight?: number;
  limits?: Partial<QuotaLimits>;
}

/** A key as the admin API and CLI show it (snake_case, as the seed's API): never the secret, never the hash. */
export type { ApiKeyView };

/** What `PATCH /api/api-keys/{id}` may change; absent fields stay as they are, null clears. */
export interface UpdateKeyInput {
  name?: string;
  expiresAt?: Date | null;
  allowedModels?: string[] | null;
  maxConcurrent?: number | null;
  queueWeight?: number;
}

/** The fields of a key the audit log shows old and new values of: settings and limits, never the secret or hash. */
const AUDITED_FIELDS = [
  'name',
  'is_active',
  'expires_at',
  'allowed_models',
  'max_concurrent',
  'queue_weight',
  'daily_token_limit',
  'monthly_token_limit',
  'daily_request_limit',
  'monthly_request_limit',
] as const satisfies readonly (keyof ApiKeyView)[];

/**
 * Key management for the admin API and the CLI (the control plane: repositories are fine here).
 * Every write and its audit row are committed in one transaction.
 */
@Injectable()
export class ApiKeysService {
  private readonly repository: Repository<ApiKeyEntity>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog = new AuditLog(dataSource),
  ) {
    this.repository = dataSource.getRepository(ApiKeyEntity);
  }

  /** Creates a key and returns its plaintext, which exists nowhere else afterwards. */
  async create(input: CreateKeyInput): Promise<{ key: string; apiKey: ApiKeyView }> {
    const material = generateKey();
    return this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(ApiKeyEntity);
      const entity = repository.create({
        name: input.name,
        keyHash: material.hash,
        keyPrefix: material.prefix,
        isActive: true,
        expiresAt: input.expiresAt ?? null,
        allowedModels: input.allowedModels ?? null,
        maxConcurrent: input.maxConcurrent ?? null,
        queueWeight: input.queueWeight ?? 1,
        dailyTokenLimit: input.limits?.dailyTokens ?? null,
        monthlyTokenLimit: input.limits?.monthlyTokens ?? null,
        dailyRequestLimit: input.limits?.dailyRequests ?? null,
        monthlyRequestLimit: input.limits?.monthlyRequests ?? null,
      });
      // In the write transaction (IMMEDIATE on SQLite, see openDatabase): no other process can take the name in between.
      await nameFree(repository, input.name);
      const apiKey = toView(await repository.save(entity));
      await this.audit.record(
        { action: 'key.create', targetType: 'api_key', targetId: apiKey.id, targetName: apiKey.name, changes: allFields(audited(apiKey)) },
        manager,
      );
      return { key: material.plaintext, apiKey };
    });
  }

  async list(): Promise<ApiKeyView[]> {
    const keys = await this.repository.find({ order: { id: 'ASC' } });
    return keys.map(toView);
  }

  async get(id: number): Promise<ApiKeyView> {
    return toView(await this.entity(id));
  }

  async setActive(id: number, isActive: boolean): Promise<ApiKeyView> {
    return this.change(id, isActive ? 'key.activate' : 'key.deactivate', (entity) => {
      entity.isActive = isActive;
    });
  }

  /** Changes the given limits (null = unlimited); absent fields stay as they are. */
  async setLimits(id: number, limits: Partial<QuotaLimits>): Promise<ApiKeyView> {
    return this.change(id, 'key.quota', (entity) => {
      if (limits.dailyTokens !== undefined) entity.dailyTokenLimit = limits.dailyTokens;
      if (limits.monthlyTokens !== undefined) entity.monthlyTokenLimit = limits.monthlyTokens;
      if (limits.dailyRequests !== undefined) entity.dailyRequestLimit = limits.dailyRequests;
      if (limits.monthlyRequests !== undefined) entity.monthlyRequestLimit = limits.monthlyRequests;
    });
  }

  /** Name, expiry, allowed models, concurrency, queue weight; absent fields stay as they are, null clears (not the weight). */
  async update(id: number, input: UpdateKeyInput): Promise<ApiKeyView> {
    return this.change(id, 'key.update', (entity) => {
      if (input.name !== undefined) entity.name = input.name;
      if (input.expiresAt !== undefined) entity.expiresAt = input.expiresAt;
      if (input.allowedModels !== undefined) entity.allowedModels = input.allowedModels;
      if (input.maxConcurrent !== undefined) entity.maxConcurrent = input.maxConcurrent;
      if (input.queueWeight !== undefined) entity.queueWeight = input.queueWeight;
    });
  }

  /**
   * Replaces the key's secret: the old one is refused from the next request on (the proxy looks
   * keys up by hash on every request), while id, limits and usage stay.
   */
  async rotate(id: number): Promise<{ key: string; apiKey: ApiKeyView }> {
    const material = generateKey();
    return this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(ApiKeyEntity);
      const entity = await this.entity(id, repository);
      const oldPrefix = entity.keyPrefix;
      entity.keyHash = material.hash;
      entity.keyPrefix = material.prefix;
      const apiKey = toView(await repository.save(entity));
      await this.audit.record(
        {
          action: 'key.rotate',
          targetType: 'api_key',
          targetId: id,
          targetName: apiKey.name,
          // The prefix is what the admin already sees in the key list; the rest of the key is not recorded.
          changes: { key_prefix: { old: oldPrefix, new: apiKey.key_prefix } },
        },
        manager,
      );
      return { key: material.plaintext, apiKey };
    });
  }

  async delete(id: number): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(ApiKeyEntity);
      const before = toView(await this.entity(id, repository));
      const result = await repository.delete({ id });
      if (!result.affected) throw new NotFoundException(`API key ${id} not found`);
      await this.audit.record(
        { action: 'key.delete', targetType: 'api_key', targetId: id, targetName: before.name, changes: allFields(audited(before), true) },
        manager,
      );
    });
  }

  /** Loads the key, applies `mutate`, saves it and records the fields that changed, in one transaction. */
  private change(id: number, action: AuditAction, mutate: (entity: ApiKeyEntity) => void): Promise<ApiKeyView> {
    return this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(ApiKeyEntity);
      const entity = await this.entity(id, repository);
      const before = toView(entity);
      mutate(entity);
      const after = toView(await repository.save(entity));
      if (after.name.toLowerCase() !== before.name.toLowerCase()) await nameFree(repository, after.name, id);
      const changes = diffFields(audited(before), audited(after), AUDITED_FIELDS);
      // activate/deactivate are recorded even when the key already was in that state: the admin asked.
      if (Object.keys(changes).length > 0 || action === 'key.activate' || action === 'key.deactivate') {
        await this.audit.record({ action, targetType: 'api_key', targetId: id, targetName: after.name, changes }, manager);
      }
      return after;
    });
  }

  private async entity(id: number, repository = this.repository): Promise<ApiKeyEntity> {
    const entity = await repository.findOneBy({ id });
    if (!entity) throw new NotFoundException(`API key ${id} not found`);
    return entity;
  }
}

/**
 * Key names are how people tell keys apart (the usage report, the audit log, the CLI): a name a
 * key already has, in any letter case, is refused.
 */
async function nameFree(repository: Repository<ApiKeyEntity>, name: string, exceptId?: number): Promise<void> {
  await namesInTurn(repository.manager, 'api_keys');
  const taken = await repository
    .createQueryBuilder('k')
    .select('k.id', 'id')
    .where('LOWER(k.name) = LOWER(:name)', { name })
    .getRawMany<{ id: number }>();
  if (taken.some((row) => Number(row.id) !== exceptId)) throw new ConflictException(`a key named '${name}' already exists; key names must differ`);
}

function audited(view: ApiKeyView): Record<(typeof AUDITED_FIELDS)[number], unknown> {
  return Object.fromEntries(AUDITED_FIELDS.map((field) => [field, view[field]])) as Record<(typeof AUDITED_FIELDS)[number], unknown>;
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
    queue_weight: entity.queueWeight,
    daily_token_limit: entity.dailyTokenLimit,
    monthly_token_limit: entity.monthlyTokenLimit,
    daily_request_limit: entity.dailyRequestLimit,
    monthly_request_limit: entity.monthlyRequestLimit,
  };
}
