import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/** API keys (hash, prefix, expiry, limits) and run-time settings. */
export class Initial1764100000000 implements MigrationInterface {
  name = 'Initial1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = columnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'key_hash', type: 'varchar', length: '64' },
          { name: 'key_prefix', type: 'varchar', length: '16' },
          { name: 'is_active', type: 'boolean', default: t.boolTrue },
          { name: 'expires_at', type: t.timestamp, isNullable: true },
          { name: 'created_at', type: t.timestamp, default: t.now },
          { name: 'last_used_at', type: t.timestamp, isNullable: true },
          { name: 'allowed_models', type: 'text', isNullable: true },
          { name: 'max_concurrent', type: 'integer', isNullable: true },
          { name: 'daily_token_limit', type: 'bigint', isNullable: true },
          { name: 'monthly_token_limit', type: 'bigint', isNullable: true },
          { name: 'daily_request_limit', type: 'bigint', isNullable: true },
          { name: 'monthly_request_limit', type: 'bigint', isNullable: true },
        ],
        indices: [{ name: 'uq_api_keys_key_hash', columnNames: ['key_hash'], isUnique: true }],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'settings',
        columns: [
          { name: 'key', type: 'varchar', length: '100', isPrimary: true },
          { name: 'value', type: 'text' },
          { name: 'updated_at', type: t.timestamp, default: t.now },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('settings');
    await queryRunner.dropTable('api_keys');
  }
}
