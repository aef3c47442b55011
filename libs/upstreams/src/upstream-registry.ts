import { BadRequestException, ConflictException, NotFoundException } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { AuditLog, allFields, diffFields, redactUrl } from '@llmproxy/audit';
import { namesInTurn, UpstreamEntity } from '@llmproxy/persistence';
import type { UpstreamConfig } from './upstream.js';

export interface UpstreamInput {
  name: string;
  url: string;
  enabled?: boolean;
  maxParallel?: number;
  priority?: number;
  reservedSlots?: number;
}

export const DEFAULT_MAX_PARALLEL = 4;

const AUDITED = ['name', 'url', 'enabled', 'max_parallel', 'priority', 'reserved_slots'] as const;

/**
 * The list of Ollama servers, in the database so every replica routes over the same list. Writes
 * go with their audit row in one transaction (URL passwords masked in the audit).
 */
export class UpstreamRegistry {
  private readonly repository: Repository<UpstreamEntity>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog = new AuditLog(dataSource),
  ) {
    this.repository = dataSource.getRepository(UpstreamEntity);
  }

  async list(): Promise<UpstreamConfig[]> {
    return (await this.repository.find({ order: { id: 'ASC' } })).map(toConfig);
  }

  /**
   * The first start of this version: an empty list is filled from OLLAMA_URLS, else from the Ollama
   * URL the gateway used so far (the admin's `ollama_url` setting, seeded from OLLAMA_URL). Only
   * ever when the table is empty, so the admin's later edits win over the environment.
   */
  async seed(urls: readonly string[], maxParallel = DEFAULT_MAX_PARALLEL): Promise<void> {
    if ((await this.repository.count()) > 0) return;
    const named = urls.map((url, index) => ({ name: urls.length === 1 ? 'ollama' : `ollama-${index + 1}`, url }));
    for (const upstream of named) {
      await this.repository
        .createQueryBuilder()
        .insert()
        .values({ name: upstream.name, url: upstream.url, enabled: true, maxParallel, priority: 0 })
        .orIgnore() // a replica seeding at the same moment
        .execute();
    }
  }

  async create(input: UpstreamInput): Promise<UpstreamConfig> {
    return this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(UpstreamEntity);
      await this.nameFree(repository, input.name);
      reservedBelowMax(input.maxParallel ?? DEFAULT_MAX_PARALLEL, input.reservedSlots ?? 0);
      const saved = await repository.save(
        repository.create({
          name: input.name,
          url: normalise(input.url),
          enabled: input.enabled ?? true,
          maxParallel: input.maxParallel ?? DEFAULT_MAX_PARALLEL,
          priority: input.priority ?? 0,
          reservedSlots: input.reservedSlots ?? 0,
        }),
      );
      const config = toConfig(saved);
      await this.audit.record({ action: 'upstream.create', targetType: 'upstream', targetId: config.id, targetName: config.name, changes: allFields(audited(config)) }, manager);
      return config;
    });
  }

  async update(id: number, change: Partial<UpstreamInput>): Promise<UpstreamConfig> {
    return this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(UpstreamEntity);
      const entity = await repository.findOneBy({ id });
      if (!entity) throw new NotFoundException(`upstream ${id} not found`);
      if (change.name !== undefined && change.name !== entity.name) await this.nameFree(repository, change.name);
      const before = toConfig(entity);
      if (change.name !== undefined) entity.name = change.name;
      if (change.url !== undefined) entity.url = normalise(change.url);
      if (change.enabled !== undefined) entity.enabled = change.enabled;
      if (change.maxParallel !== undefined) entity.maxParallel = change.maxParallel;
      if (change.priority !== undefined) entity.priority = change.priority;
      if (change.reservedSlots !== undefined) entity.reservedSlots = change.reservedSlots;
      reservedBelowMax(entity.maxParallel, entity.reservedSlots);
      const after = toConfig(await repository.save(entity));
      const changes = diffFields(audited(before), audited(after), AUDITED);
      if (Object.keys(changes).length > 0) {
        await this.audit.record({ action: 'upstream.update', targetType: 'upstream', targetId: id, targetName: after.name, changes }, manager);
      }
      return after;
    });
  }

  async remove(id: number): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(UpstreamEntity);
      const entity = await repository.findOneBy({ id });
      if (!entity) throw new NotFoundException(`upstream ${id} not found`);
      await repository.delete({ id });
      const before = toConfig(entity);
      await this.audit.record({ action: 'upstream.delete', targetType: 'upstream', targetId: id, targetName: before.name, changes: allFields(audited(before), true) }, manager);
    });
  }

  private async nameFree(repository: Repository<UpstreamEntity>, name: string): Promise<void> {
    await namesInTurn(repository.manager, 'upstreams');
    if (await repository.findOneBy({ name })) throw new ConflictException(`an upstream named '${name}' already exists`);
  }
}

function toConfig(entity: UpstreamEntity): UpstreamConfig {
  return {
    id: entity.id,
    name: entity.name,
    url: entity.url,
    enabled: entity.enabled === true || (entity.enabled as unknown) === 1,
    maxParallel: entity.maxParallel,
    priority: entity.priority,
    reservedSlots: entity.reservedSlots ?? 0,
  };
}

/** At least one slot stays open to a key that already has requests in flight, or it could never have two. */
function reservedBelowMax(maxParallel: number, reservedSlots: number): void {
  if (reservedSlots >= maxParallel) {
    throw new BadRequestException(`reserved_slots (${reservedSlots}) must be less than max_parallel (${maxParallel})`);
  }
}

function audited(config: UpstreamConfig): Record<(typeof AUDITED)[number], unknown> {
  return { name: config.name, url: redactUrl(config.url), enabled: config.enabled, max_parallel: config.maxParallel, priority: config.priority, reserved_slots: config.reservedSlots ?? 0 };
}

function normalise(url: string): string {
  return url.replace(/\/+$/, '');
}
