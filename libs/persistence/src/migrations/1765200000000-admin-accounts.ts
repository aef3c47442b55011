import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * Named admins (issue 16, item 5): accounts with a role and a scrypt hash, the account a session
 * belongs to (null: the built-in admin of ADMIN_PASSWORD, as every session before this migration),
 * and the account behind each audit row (null for rows from before, the CLI and failed logins).
 * No foreign key from sessions to accounts: deleting an account deletes its sessions in the same
 * transaction, and a session whose account is gone is refused anyway (the guard joins the two).
 */
export class AdminAccounts1765200000000 implements MigrationInterface {
  name = 'AdminAccounts1765200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = columnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'admin_accounts',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'username', type: 'varchar', length: '64', isUnique: true },
          { name: 'role', type: 'varchar', length: '20' },
          { name: 'password_hash', type: 'varchar', length: '255' },
          { name: 'password_changed_at', type: t.timestamp, default: t.now },
          { name: 'created_at', type: t.timestamp, default: t.now },
          { name: 'updated_at', type: t.timestamp, default: t.now },
        ],
      }),
    );
    await queryRunner.addColumn('admin_sessions', new TableColumn({ name: 'account_id', type: 'integer', isNullable: true }));
    await queryRunner.createIndex('admin_sessions', new TableIndex({ name: 'ix_admin_sessions_account_id', columnNames: ['account_id'] }));
    await queryRunner.addColumn('audit_log', new TableColumn({ name: 'actor', type: 'varchar', length: '64', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('audit_log', 'actor');
    await queryRunner.dropIndex('admin_sessions', 'ix_admin_sessions_account_id');
    await queryRunner.dropColumn('admin_sessions', 'account_id');
    await queryRunner.dropTable('admin_accounts');
  }
}
