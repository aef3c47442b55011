import type { QueryRunner } from 'typeorm';

/** Column spellings that differ between the two databases, for the migrations. */
export function columnTypes(queryRunner: QueryRunner) {
  const postgres = queryRunner.connection.driver.options.type === 'postgres';
  return {
    postgres,
    timestamp: postgres ? 'timestamptz' : 'datetime',
    now: postgres ? 'now()' : "(strftime('%Y-%m-%d %H:%M:%f', 'now'))",
    boolTrue: postgres ? 'true' : '1',
  };
}
