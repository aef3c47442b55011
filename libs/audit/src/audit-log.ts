import type { AuditEntry as AuditRecordView } from '@llmproxy/api-types';
import { Injectable } from '@nestjs/common';
import { DataSource, LessThan, type EntityManager, type FindOptionsWhere } from 'typeorm';
import { AuditLogEntity } from '@llmproxy/persistence';
import { auditActor } from './audit-actor.js';
import { assertNoSecret, type AuditChanges } from './changes.js';

export type AuditAction =
  | 'key.create'
  | 'key.update'
  | 'key.quota'
  | 'key.rotate'
  | 'key.activate'
  | 'key.deactivate'
  | 'key.delete'
  | 'settings.update'
  | 'upstream.create'
  | 'upstream.update'
  | 'upstream.delete'
  | 'account.create'
  | 'account.update'
  | 'account.delete'
  | 'account.password'
  | 'admin_password.change'
  | 'alert_webhook.create'
  | 'alert_webhook.update'
  | 'alert_webhook.delete'
  | 'alert_webhook.test'
  | 'login.success'
  | 'login.failure'
  | 'logout';

export type AuditTargetType = 'api_key' | 'settings' | 'admin_session' | 'upstream' | 'admin_account' | 'alert_webhook';

export interface AuditEntry {
  action: AuditAction;
  targetType: AuditTargetType;
  targetId?: string | number | null;
  targetName?: string | null;
  changes?: AuditChanges | null;
  /** Who did it; by default the account of the current admin request (auditActor). */
  actor?: string | null;
}

/** An audit row as the admin API shows it (snake_case), newest first. */
export type { AuditRecordView };

export interface AuditQuery {
  limit: number;
  /** Only rows older than this id: the next page after the last row seen. */
  beforeId?: number;
}

/**
 * The record of admin writes. Services call `record` with the EntityManager of the transaction that
 * makes the change, so the change and its audit row are committed together.
 */
@Injectable()
export class AuditLog {
  constructor(private readonly dataSource: DataSource) {}

  async record(entry: AuditEntry, manager: EntityManager = this.dataSource.manager): Promise<void> {
    if (entry.changes) assertNoSecret(entry.changes);
    await manager.insert(AuditLogEntity, {
      at: new Date(),
      action: entry.action,
      actor: entry.actor === undefined ? auditActor.current() : entry.actor,
      targetType: entry.targetType,
      targetId: entry.targetId == null ? null : String(entry.targetId),
      targetName: entry.targetName ?? null,
      changes: entry.changes ? JSON.stringify(entry.changes) : null,
    });
  }

  async list(query: AuditQuery): Promise<AuditRecordView[]> {
    const where: FindOptionsWhere<AuditLogEntity> = query.beforeId === undefined ? {} : { id: LessThan(query.beforeId) };
    const rows = await this.dataSource.getRepository(AuditLogEntity).find({ where, order: { id: 'DESC' }, take: query.limit });
    return rows.map((row) => ({
      id: row.id,
      at: row.at.toISOString(),
      action: row.action,
      actor: row.actor,
      target_type: row.targetType,
      target_id: row.targetId,
      target_name: row.targetName,
      changes: row.changes == null ? null : (JSON.parse(row.changes) as AuditChanges),
    }));
  }
}
