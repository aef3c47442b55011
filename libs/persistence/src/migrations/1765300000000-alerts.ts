import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * Alerts (issue 16, item 7): the webhooks admins configure, each delivery of an event to one of
 * them (its attempts, next attempt and last error: the retry queue and its history at once), and
 * what was already sent — one row per alert that must go once (a key's 80 % of a limit in one
 * window, an expiry, …), whose unique key makes replicas and restarts send it once — and the last
 * known state of each watched subject (an upstream up or down), whose transitions one replica claims.
 */
export class Alerts1765300000000 implements MigrationInterface {
  name = 'Alerts1765300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = columnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'alert_webhooks',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'url', type: 'varchar', length: '2000' },
          // Write-only: never answered, logged or audited.
          { name: 'secret', type: 'varchar', length: '500', isNullable: true },
          { name: 'format', type: 'varchar', length: '10' },
          // JSON array of event names.
          { name: 'events', type: 'text' },
          { name: 'enabled', type: 'boolean', default: t.boolTrue },
          { name: 'created_at', type: t.timestamp, default: t.now },
          { name: 'updated_at', type: t.timestamp, default: t.now },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'alert_deliveries',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'webhook_id', type: 'integer' },
          { name: 'event', type: 'varchar', length: '40' },
          // The event as JSON ({event, at, ...details}); each attempt formats and signs it afresh.
          { name: 'payload', type: 'text' },
          // pending | delivered | failed
          { name: 'status', type: 'varchar', length: '12' },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'next_attempt_at', type: t.timestamp, isNullable: true },
          { name: 'last_error', type: 'varchar', length: '500', isNullable: true },
          { name: 'last_status', type: 'integer', isNullable: true },
          { name: 'created_at', type: t.timestamp, default: t.now },
          { name: 'updated_at', type: t.timestamp, default: t.now },
        ],
        foreignKeys: [{ columnNames: ['webhook_id'], referencedTableName: 'alert_webhooks', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
      }),
    );
    await queryRunner.createIndex('alert_deliveries', new TableIndex({ name: 'ix_alert_deliveries_due', columnNames: ['status', 'next_attempt_at'] }));
    await queryRunner.createIndex('alert_deliveries', new TableIndex({ name: 'ix_alert_deliveries_webhook', columnNames: ['webhook_id', 'id'] }));
    await queryRunner.createTable(
      new Table({
        name: 'alert_sent',
        columns: [
          // e.g. `quota:12:daily_requests:2026-12-04:80`, `expiry:12:2026-12-10T00:00:00.000Z`
          { name: 'dedupe_key', type: 'varchar', length: '200', isPrimary: true },
          { name: 'created_at', type: t.timestamp, default: t.now },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'alert_states',
        columns: [
          // e.g. `upstream:3`
          { name: 'subject', type: 'varchar', length: '100', isPrimary: true },
          { name: 'state', type: 'varchar', length: '20' },
          { name: 'changed_at', type: t.timestamp, default: t.now },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('alert_states');
    await queryRunner.dropTable('alert_sent');
    await queryRunner.dropTable('alert_deliveries');
    await queryRunner.dropTable('alert_webhooks');
  }
}
