import type { MigrationInterface, QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * SQLite only (a no-op on PostgreSQL, where any number of replicas share the database): the lease
 * of the one process that serves the file (libs/persistence/src/sqlite-owner.ts). At most one row.
 * Times are ISO 8601 text (UTC), so an operator can read the row with the sqlite3 shell.
 */
export class SqliteOwner1764800000000 implements MigrationInterface {
  name = 'SqliteOwner1764800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (columnTypes(queryRunner).postgres) return;
    await queryRunner.query(`
      CREATE TABLE llmproxy_owner (
        id integer PRIMARY KEY CHECK (id = 1),
        owner_id varchar(64) NOT NULL,
        pid integer NOT NULL,
        host varchar(255) NOT NULL,
        scope varchar(512) NOT NULL,
        started_at varchar(32) NOT NULL,
        heartbeat_at varchar(32) NOT NULL
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (columnTypes(queryRunner).postgres) return;
    await queryRunner.query('DROP TABLE llmproxy_owner');
  }
}
