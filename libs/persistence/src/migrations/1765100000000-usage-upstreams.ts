import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * The hourly usage per upstream (issue 15, item 7): `usage_upstream_rollup` counts each settled
 * request under the upstream (Ollama server, by its admin-given name) that served it, or under ''
 * when none did (admitted, then overloaded or failed before any upstream answered). It is keyed like
 * `usage_rollup` plus the upstream, so the usage report's key and model filters apply to it as well;
 * it is written in the same transaction as `usage_rollup` (the SQLite ledger's batch, or
 * `llmproxy_settle_many` on PostgreSQL). No foreign key, like `usage_rollup`: a deleted key's or
 * upstream's history stays readable. Rows start with this migration; older hours have none.
 *
 * PostgreSQL: a new overload of `llmproxy_settle_many` with the upstreams as a tenth array. The
 * previous nine-array signature (1764500000000) stays as it was, so replicas still running the
 * previous release during a rolling upgrade settle as before; their settlements do not name an
 * upstream and are not in this table.
 */
const SETTLE_MANY = `
CREATE OR REPLACE FUNCTION llmproxy_settle_many(
  p_key integer[], p_id varchar[], p_tokens bigint[], p_model varchar[], p_bucket timestamptz[],
  p_prompt bigint[], p_completion bigint[], p_estimated bigint[], p_failed bigint[], p_upstream varchar[])
RETURNS TABLE (item integer, settled boolean)
LANGUAGE plpgsql AS $fn$
DECLARE
  i integer;
  r record;
BEGIN
  FOR i IN SELECT u.ord FROM unnest(p_key) WITH ORDINALITY AS u(k, ord) ORDER BY u.k, u.ord LOOP
    PERFORM pg_advisory_xact_lock(4521, p_key[i]);
    DELETE FROM quota_reservations q WHERE q.id = p_id[i] RETURNING q.api_key_id, q.day_key, q.month_key, q.tokens INTO r;
    item := i;
    settled := FOUND;
    IF settled THEN
      UPDATE quota_counters q SET tokens = q.tokens + p_tokens[i], reserved_tokens = q.reserved_tokens - r.tokens
        WHERE q.api_key_id = r.api_key_id AND q.period_key IN (r.day_key, r.month_key);
      INSERT INTO usage_rollup AS u (api_key_id, model, bucket_start, requests, prompt_tokens, completion_tokens, estimated_requests, failed_requests)
        VALUES (r.api_key_id, p_model[i], p_bucket[i], 1, p_prompt[i], p_completion[i], p_estimated[i], p_failed[i])
        ON CONFLICT (api_key_id, model, bucket_start) DO UPDATE SET
          requests = u.requests + 1,
          prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
          completion_tokens = u.completion_tokens + excluded.completion_tokens,
          estimated_requests = u.estimated_requests + excluded.estimated_requests,
          failed_requests = u.failed_requests + excluded.failed_requests;
      INSERT INTO usage_upstream_rollup AS w (api_key_id, model, upstream, bucket_start, requests, prompt_tokens, completion_tokens, failed_requests)
        VALUES (r.api_key_id, p_model[i], coalesce(p_upstream[i], ''), p_bucket[i], 1, p_prompt[i], p_completion[i], p_failed[i])
        ON CONFLICT (api_key_id, model, upstream, bucket_start) DO UPDATE SET
          requests = w.requests + 1,
          prompt_tokens = w.prompt_tokens + excluded.prompt_tokens,
          completion_tokens = w.completion_tokens + excluded.completion_tokens,
          failed_requests = w.failed_requests + excluded.failed_requests;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$fn$`;

export class UsageUpstreams1765100000000 implements MigrationInterface {
  name = 'UsageUpstreams1765100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = columnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'usage_upstream_rollup',
        columns: [
          { name: 'api_key_id', type: 'integer', isPrimary: true },
          { name: 'model', type: 'varchar', length: '200', isPrimary: true },
          // '' = no upstream served the request.
          { name: 'upstream', type: 'varchar', length: '100', isPrimary: true },
          { name: 'bucket_start', type: t.timestamp, isPrimary: true },
          { name: 'requests', type: 'bigint', default: 0 },
          { name: 'prompt_tokens', type: 'bigint', default: 0 },
          { name: 'completion_tokens', type: 'bigint', default: 0 },
          { name: 'failed_requests', type: 'bigint', default: 0 },
        ],
        indices: [{ name: 'ix_usage_upstream_rollup_bucket_start', columnNames: ['bucket_start'] }],
      }),
    );
    if (t.postgres) await queryRunner.query(SETTLE_MANY);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (columnTypes(queryRunner).postgres) {
      await queryRunner.query(
        'DROP FUNCTION IF EXISTS llmproxy_settle_many(integer[], varchar[], bigint[], varchar[], timestamptz[], bigint[], bigint[], bigint[], bigint[], varchar[])',
      );
    }
    await queryRunner.dropTable('usage_upstream_rollup');
  }
}
