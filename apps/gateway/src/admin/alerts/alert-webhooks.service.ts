import { Injectable, NotFoundException } from '@nestjs/common';
import type { AlertDeliveryView, AlertEvent, AlertFormat, AlertWebhookView, CreateAlertWebhookRequest, UpdateAlertWebhookRequest } from '@llmproxy/api-types';
import { DataSource, type EntityManager } from 'typeorm';
import { createHash } from 'node:crypto';
import { allFields, AuditLog, type AuditChanges, diffFields } from '@llmproxy/audit';
import { AlertDeliveryEntity, AlertWebhookEntity } from '@llmproxy/persistence';
import type { AlertMessage } from '../../alerts/alert-format.js';
import { AlertService, parseEvents } from '../../alerts/alert-service.js';

/**
 * The admins' alert webhooks and their deliveries. The secret is write-only: stored to sign bodies,
 * never answered (only `has_secret`), never audited (only that it changed). Writes and their audit
 * rows commit together; deleting a webhook deletes its deliveries (foreign key, on delete cascade).
 */
@Injectable()
export class AlertWebhooksService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly alerts: AlertService,
  ) {}

  async list(): Promise<AlertWebhookView[]> {
    return (await this.dataSource.getRepository(AlertWebhookEntity).find({ order: { id: 'ASC' } })).map(toView);
  }

  async create(input: CreateAlertWebhookRequest): Promise<AlertWebhookView> {
    const view = await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(AlertWebhookEntity);
      const saved = await repository.save(
        repository.create({ name: input.name, url: input.url, secret: input.secret || null, format: input.format ?? 'json', events: JSON.stringify(input.events), enabled: input.enabled ?? true }),
      );
      const created = toView(saved);
      await this.audit.record({ action: 'alert_webhook.create', targetType: 'alert_webhook', targetId: created.id, targetName: created.name, changes: allFields(audited(created)) }, manager);
      return created;
    });
    this.alerts.webhooksChanged();
    return view;
  }

  async update(id: number, input: UpdateAlertWebhookRequest): Promise<AlertWebhookView> {
    const view = await this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(AlertWebhookEntity);
      const entity = await found(manager, id);
      const before = toView(entity);
      if (input.name !== undefined) entity.name = input.name;
      if (input.url !== undefined) entity.url = input.url;
      if (input.format !== undefined) entity.format = input.format;
      if (input.events !== undefined) entity.events = JSON.stringify(input.events);
      if (input.enabled !== undefined) entity.enabled = input.enabled;
      const secretChanged = input.secret !== undefined && (input.secret || null) !== entity.secret;
      if (input.secret !== undefined) entity.secret = input.secret || null;
      const after = toView(await repository.save(entity));
      const changes: AuditChanges = diffFields(audited(before), audited(after), ['name', 'url', 'format', 'events', 'enabled', 'has_secret']);
      // Only that it changed: never the secret, old or new.
      if (secretChanged) changes['secret_changed'] = { old: null, new: true };
      if (Object.keys(changes).length > 0) await this.audit.record({ action: 'alert_webhook.update', targetType: 'alert_webhook', targetId: id, targetName: after.name, changes }, manager);
      return after;
    });
    this.alerts.webhooksChanged();
    return view;
  }

  async remove(id: number): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const before = toView(await found(manager, id));
      await manager.getRepository(AlertDeliveryEntity).delete({ webhookId: id });
      await manager.getRepository(AlertWebhookEntity).delete({ id });
      await this.audit.record({ action: 'alert_webhook.delete', targetType: 'alert_webhook', targetId: id, targetName: before.name, changes: allFields(audited(before), true) }, manager);
    });
    this.alerts.webhooksChanged();
  }

  /** Queues a `test` delivery to the webhook (enabled or not, whatever its events); the delivery as it stands. */
  async test(id: number): Promise<AlertDeliveryView> {
    const webhook = toView(await found(this.dataSource.manager, id));
    await this.audit.record({ action: 'alert_webhook.test', targetType: 'alert_webhook', targetId: id, targetName: webhook.name });
    const deliveryId = await this.alerts.sendTest(id);
    const delivery = await this.dataSource.getRepository(AlertDeliveryEntity).findOneByOrFail({ id: deliveryId });
    return toDeliveryView(delivery, webhook.name);
  }

  async deliveries(query: { webhookId?: number; limit?: number }): Promise<AlertDeliveryView[]> {
    const rows = await this.dataSource.getRepository(AlertDeliveryEntity).find({
      where: query.webhookId ? { webhookId: query.webhookId } : {},
      order: { id: 'DESC' },
      take: query.limit ?? 100,
    });
    const names = new Map((await this.dataSource.getRepository(AlertWebhookEntity).find({ select: { id: true, name: true } })).map((w) => [w.id, w.name]));
    return rows.map((row) => toDeliveryView(row, names.get(row.webhookId) ?? null));
  }
}

function toView(entity: AlertWebhookEntity): AlertWebhookView {
  return {
    id: entity.id,
    name: entity.name,
    url: entity.url,
    format: entity.format as AlertFormat,
    events: parseEvents(entity.events),
    enabled: Boolean(entity.enabled),
    has_secret: Boolean(entity.secret),
    created_at: entity.createdAt.toISOString(),
    updated_at: entity.updatedAt.toISOString(),
  };
}

function toDeliveryView(entity: AlertDeliveryEntity, webhookName: string | null): AlertDeliveryView {
  let summary = '';
  try {
    summary = (JSON.parse(entity.payload) as AlertMessage).summary ?? '';
  } catch {
    // an unreadable payload shows no summary
  }
  return {
    id: entity.id,
    webhook_id: entity.webhookId,
    webhook_name: webhookName,
    event: entity.event as AlertEvent,
    status: entity.status as AlertDeliveryView['status'],
    attempts: entity.attempts,
    next_attempt_at: entity.status === 'pending' ? (entity.nextAttemptAt?.toISOString() ?? null) : null,
    last_error: entity.lastError,
    last_status: entity.lastStatus,
    summary,
    created_at: entity.createdAt.toISOString(),
    updated_at: entity.updatedAt.toISOString(),
  };
}

/** What the audit shows of a webhook: never the secret; the URL without a password in it. */
function audited(view: AlertWebhookView): Record<'name' | 'url' | 'format' | 'events' | 'enabled' | 'has_secret', unknown> {
  return { name: view.name, url: fingerprintedOrigin(view.url), format: view.format, events: view.events, enabled: view.enabled, has_secret: view.has_secret };
}

async function found(manager: EntityManager, id: number): Promise<AlertWebhookEntity> {
  const entity = await manager.getRepository(AlertWebhookEntity).findOneBy({ id });
  if (!entity) throw new NotFoundException(`alert webhook ${id} not found`);
  return entity;
}

/** Where a webhook goes without what lets anyone post to it: a Slack or Teams URL's path and query are its token. */
export function originOnly(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '…';
  }
}

/** For the audit log (read by viewers): the origin, and a short hash that tells a changed URL apart. */
function fingerprintedOrigin(url: string): string {
  return `${originOnly(url)} #${createHash('sha256').update(url).digest('hex').slice(0, 8)}`;
}
