import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { timestamp } from './columns.js';

/** A webhook alerts go to (apps/gateway/src/alerts). */
@Entity('alert_webhooks')
export class AlertWebhookEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 2000 })
  url!: string;

  /** Signs each body (HMAC-SHA256). Write-only: never answered, logged or audited. */
  @Column({ type: 'varchar', length: 500, nullable: true })
  secret!: string | null;

  /** `json`, `slack` or `teams`. */
  @Column({ type: 'varchar', length: 10 })
  format!: string;

  /** JSON array of event names. */
  @Column({ type: 'text' })
  events!: string;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  @CreateDateColumn({ name: 'created_at', ...timestamp })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', ...timestamp })
  updatedAt!: Date;
}

/** One event for one webhook: its attempts so far, the next one, and how the last one went. */
@Entity('alert_deliveries')
export class AlertDeliveryEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'webhook_id', type: 'integer' })
  webhookId!: number;

  @Column({ type: 'varchar', length: 40 })
  event!: string;

  @Column({ type: 'text' })
  payload!: string;

  /** `pending`, `delivered` or `failed`. */
  @Column({ type: 'varchar', length: 12 })
  status!: string;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'next_attempt_at', ...timestamp, nullable: true })
  nextAttemptAt!: Date | null;

  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true })
  lastError!: string | null;

  @Column({ name: 'last_status', type: 'integer', nullable: true })
  lastStatus!: number | null;

  @CreateDateColumn({ name: 'created_at', ...timestamp })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', ...timestamp })
  updatedAt!: Date;
}
