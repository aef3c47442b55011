import { Table, TableForeignKey, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * Quota counters per key and window, the reservations of requests in flight, and the hourly usage
 * rollup that feeds the admin's usage views.
 */
export class Quota1764200000000 implements MigrationInterface {
  name = 'Quota1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = columnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'quota_counters',
        columns: [
          { name: 'api_key_id', type: 'integer', isPrimary: true },
          // '2026-11-26' for a day, '2026-11' for a month, in APP_TZ: the two never collide.
          { name: 'period_key', type: 'varchar', length: '10', isPrimary: true },
          { name: 'requests', type: 'bigint', default: 0 },
          { name: 'tokens', type: 'bigint', default: 0 },
          { name: 'reserved_tokens', type: 'bigint', default: 0 },
        ],
      }),
    );
    await queryRunner.createForeignKey(
      'quota_counters',
      new TableForeignKey({ columnNames: ['api_key_id'], referencedTableName: 'api_keys', referencedColumnNames: ['id'], onDelete: 'CASCADE' }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'quota_reservations',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'api_key_id', type: 'integer' },
          { name: 'day_key', type: 'varchar', length: '10' },
          { name: 'month_key', type: 'varchar', length: '10' },
          { name: 'tokens', type: 'bigint' },
          { name: 'created_at', type: t.timestamp },
          { name: 'expires_at', type: t.timestamp },
        ],
        indices: [{ name: 'ix_quota_reservations_expires_at', columnNames: ['expires_at'] }],
      }),
    );
    await queryRunner.createForeignKey(
      'quota_reservations',
      new TableForeignKey({ columnNames: ['api_key_id'], referencedTableName: 'api_keys', referencedColumnNames: ['id'], onDelete: 'CASCADE' }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'usage_rollup',
        columns: [
          // No foreign key: the history of a deleted key stays readable.
          { name: 'api_key_id', type: 'integer', isPrimary: true },
          { name: 'model', type: 'varchar', length: '200', isPrimary: true },
          { name: 'bucket_start', type: t.timestamp, isPrimary: true },
          { name: 'requests', type: 'bigint', default: 0 },
          { name: 'prompt_tokens', type: 'bigint', default: 0 },
          { name: 'completion_tokens', type: 'bigint', default: 0 },
          { name: 'estimated_requests', type: 'bigint', default: 0 },
          { name: 'failed_requests', type: 'bigint', default: 0 },
        ],
        indices: [{ name: 'ix_usage_rollup_bucket_start', columnNames: ['bucket_start'] }],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('usage_rollup');
    await queryRunner.dropTable('quota_reservations');
    await queryRunner.dropTable('quota_counters');
  }
}
