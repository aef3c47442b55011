import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * Recent failed admin credentials per client (address, or IPv6 /64): the admin guard's throttle, in
 * the database so that every replica counts the same failures. Rows older than the throttle's
 * window are deleted as new ones arrive, and the table never keeps more than a fixed number of rows.
 */
export class AdminAuthFailures1764600000000 implements MigrationInterface {
  name = 'AdminAuthFailures1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = columnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'admin_auth_failures',
        columns: [
          // bigint on PostgreSQL: ids only grow, and a long flood must not run out of them.
          { name: 'id', type: t.postgres ? 'bigint' : 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'client', type: 'varchar', length: '100' },
          // Epoch milliseconds: compared as numbers, the same on both databases.
          { name: 'at_ms', type: 'bigint' },
        ],
        indices: [
          { name: 'ix_admin_auth_failures_client_at', columnNames: ['client', 'at_ms'] },
          { name: 'ix_admin_auth_failures_at', columnNames: ['at_ms'] },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('admin_auth_failures');
  }
}
