import type { MigrationInterface, QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * PostgreSQL only (a no-op on SQLite): admission and settlement of a batch of requests in one
 * statement, so a batch costs one round trip and one commit instead of one per request (the
 * gateway's `Batcher` collects the requests that arrive while the previous batch is in flight).
 *
 * Both functions walk their items in ascending key id (then in the order given), so a batch takes
 * the keys' advisory locks (namespace 4521, the lock `llmproxy_admit` takes) in ascending order:
 * two replicas' batches that share keys wait for each other but cannot deadlock. A key's counter
 * and reservation rows are only ever touched by a transaction that holds that key's advisory lock.
 *
 * Each item is decided by the statements that decide a single request — `llmproxy_admit` per item,
 * or the settlement below per item — one after another in one transaction: PL/pgSQL runs every
 * statement with a fresh snapshot, so an item sees what the items before it in the batch wrote
 * (a key's second admission in a batch counts the first). The rules are therefore exactly those of
 * `llmproxy_admit`, i.e. `decideAdmission` (test/quota-admit.e2e-spec.ts checks both).
 *
 * `item` in the result is the item's 1-based position in the arrays passed in.
 */
const ADMIT_MANY = `
CREATE OR REPLACE FUNCTION llmproxy_admit_many(
  p_key integer[], p_day varchar[], p_month varchar[],
  p_daily_requests bigint[], p_monthly_requests bigint[], p_daily_tokens bigint[], p_monthly_tokens bigint[],
  p_prompt bigint[], p_bound boolean[], p_headroom bigint, p_requested bigint[], p_default_cap bigint, p_generates boolean[],
  p_max_concurrent bigint[], p_id varchar[], p_created timestamptz[], p_expires timestamptz[])
RETURNS TABLE (
  item integer, admitted boolean, kind text, win text, lim bigint, held boolean, reserved bigint, cap bigint,
  day_requests bigint, day_tokens bigint, day_reserved bigint,
  month_requests bigint, month_tokens bigint, month_reserved bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  i integer;
BEGIN
  FOR i IN SELECT u.ord FROM unnest(p_key) WITH ORDINALITY AS u(k, ord) ORDER BY u.k, u.ord LOOP
    RETURN QUERY SELECT i, a.* FROM llmproxy_admit(
      p_key[i], p_day[i], p_month[i], p_daily_requests[i], p_monthly_requests[i], p_daily_tokens[i], p_monthly_tokens[i],
      p_prompt[i], p_bound[i], p_headroom, p_requested[i], p_default_cap, p_generates[i], p_max_concurrent[i],
      p_id[i], p_created[i], p_expires[i]) a;
  END LOOP;
END
$fn$`;

/**
 * Settlement of one item, as the single-request statement did it: take the key's advisory lock;
 * deleting the reservation is the ticket (a second settlement, or one after the sweep released it,
 * finds nothing and changes nothing); then charge the counters and add to the hourly rollup. One
 * upsert per item, so two settlements of the same key, model and hour in one batch both count.
 */
const SETTLE_MANY = `
CREATE OR REPLACE FUNCTION llmproxy_settle_many(
  p_key integer[], p_id varchar[], p_tokens bigint[], p_model varchar[], p_bucket timestamptz[],
  p_prompt bigint[], p_completion bigint[], p_estimated bigint[], p_failed bigint[])
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
    END IF;
    RETURN NEXT;
  END LOOP;
END
$fn$`;

export class QuotaBatch1764500000000 implements MigrationInterface {
  name = 'QuotaBatch1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (!columnTypes(queryRunner).postgres) return;
    await queryRunner.query(ADMIT_MANY);
    await queryRunner.query(SETTLE_MANY);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (!columnTypes(queryRunner).postgres) return;
    await queryRunner.query(
      'DROP FUNCTION IF EXISTS llmproxy_admit_many(integer[], varchar[], varchar[], bigint[], bigint[], bigint[], bigint[], bigint[], boolean[], bigint, bigint[], bigint, boolean[], bigint[], varchar[], timestamptz[], timestamptz[])',
    );
    await queryRunner.query(
      'DROP FUNCTION IF EXISTS llmproxy_settle_many(integer[], varchar[], bigint[], varchar[], timestamptz[], bigint[], bigint[], bigint[], bigint[])',
    );
  }
}
