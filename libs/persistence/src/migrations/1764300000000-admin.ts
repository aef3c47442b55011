import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/** Admin sessions (shared by every replica, surviving restarts) and the audit log of admin writes. */
export class Admin1764300000000 implements MigrationInterface {
  name = 'Admin1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = columnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'admin_sessions',
        columns: [
          // SHA-256 of the token, hex: a leaked database does not hand out sessions.
          { name: 'token_hash', type: 'varchar', length: '64', isPrimary: true },
          { name: 'created_at', type: t.timestamp, default: t.now },
          { name: 'expires_at', type: t.timestamp },
        ],
        indices: [{ name: 'ix_admin_sessions_expires_at', columnNames: ['expires_at'] }],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'audit_log',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'at', type: t.timestamp, default: t.now },
          { name: 'action', type: 'varchar', length: '50' },
          { name: 'target_type', type: 'varchar', length: '50', isNullable: true },
          { name: 'target_id', type: 'varchar', length: '100', isNullable: true },
          { name: 'target_name', type: 'varchar', length: '200', isNullable: true },
          // JSON: { field: { old, new } }. Never a secret.
          { name: 'changes', type: 'text', isNullable: true },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_log');
    await queryRunner.dropTable('admin_sessions');
  }
}
