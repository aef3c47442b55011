import { Table, TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * Several Ollama servers (libs/upstreams): the list every replica routes over, seeded at start from
 * OLLAMA_URLS / OLLAMA_URL (or the admin's earlier `ollama_url` setting) when empty; and a key's
 * weight in the fair queue.
 */
export class Upstreams1764900000000 implements MigrationInterface {
  name = 'Upstreams1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = columnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'upstreams',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'name', type: 'varchar', length: '64', isUnique: true },
          { name: 'url', type: 'varchar', length: '2048' },
          { name: 'enabled', type: 'boolean', default: t.boolTrue },
          { name: 'max_parallel', type: 'integer', default: 4 },
          { name: 'priority', type: 'integer', default: 0 },
          { name: 'created_at', type: t.timestamp, default: t.now },
          { name: 'updated_at', type: t.timestamp, default: t.now },
        ],
      }),
    );
    await queryRunner.addColumn('api_keys', new TableColumn({ name: 'queue_weight', type: 'integer', default: 1 }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('api_keys', 'queue_weight');
    await queryRunner.dropTable('upstreams');
  }
}
