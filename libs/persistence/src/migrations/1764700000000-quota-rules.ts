import type { MigrationInterface, QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';
import { QuotaAdmit1764400000000 } from './1764400000000-quota-admit.js';
import { QuotaBatch1764500000000 } from './1764500000000-quota-batch.js';

/**
 * PostgreSQL only (a no-op on SQLite): the admission of 1764400000000 / 1764500000000 with two
 * changes, as new overloads of `llmproxy_admit` and `llmproxy_admit_many`:
 *
 * - The completion cap (issue 13, part 1). Ollama reads a num_predict of 0 or below as "no limit",
 *   so a requested limit of 0 (or a fraction, floored to 0) capped a token-limited key's completion
 *   at "no limit". Now only a positive integer names a limit; anything else names none and the
 *   default cap applies, so on a key with a token limit the cap is an integer from 1 to what the key
 *   has left. `p_requested` is numeric, so whatever number the client sent arrives as it is
 *   (0.5, 1e308, NaN, Infinity) and is judged here as `namedCompletionLimit` judges it.
 *
 * - The reservation's times come from the database's clock (issue 13, part 11): created_at = now(),
 *   expires_at = now() + p_ttl_ms. A replica whose clock runs ahead swept the live reservations of
 *   the others (and one running behind had its own swept), releasing them uncharged.
 *
 * The old signatures stay, rewritten onto the new function (their p_expires − p_created is the TTL),
 * so replicas still running the previous release during a rolling upgrade admit by the same rule
 * and clock; their `llmproxy_admit_many` calls the old `llmproxy_admit` and follows with it.
 *
 * The rules are `decideAdmission` / `decideWithBound` in libs/quota/src/admission.ts, mirrored here
 * statement by statement; test/quota-admit.e2e-spec.ts compares the two on generated inputs.
 * Change both together.
 */
const ADMIT = `
CREATE OR REPLACE FUNCTION llmproxy_admit(
  p_key integer, p_day varchar, p_month varchar,
  p_daily_requests bigint, p_monthly_requests bigint, p_daily_tokens bigint, p_monthly_tokens bigint,
  p_prompt bigint, p_bound boolean, p_headroom bigint, p_requested numeric, p_default_cap bigint, p_generates boolean,
  p_max_concurrent bigint, p_id varchar, p_ttl_ms bigint)
RETURNS TABLE (
  admitted boolean, kind text, win text, lim bigint, held boolean, reserved bigint, cap bigint,
  day_requests bigint, day_tokens bigint, day_reserved bigint,
  month_requests bigint, month_tokens bigint, month_reserved bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  d record;
  m record;
  found_rows integer;
  in_flight bigint;
  needed bigint := p_prompt + CASE WHEN p_generates THEN 1 ELSE 0 END;
  -- namedCompletionLimit: a positive integer, or none (NaN compares above every number in PostgreSQL).
  named numeric := CASE
    WHEN p_requested IS NULL OR p_requested = 'NaN' OR p_requested = 'Infinity' THEN NULL
    WHEN p_requested > 0 AND p_requested = trunc(p_requested) THEN p_requested
  END;
  full_cap numeric := CASE WHEN p_generates THEN coalesce(named, p_default_cap) ELSE 0 END;
  d_left bigint;
  m_left bigint;
  remaining bigint;
  v_cap bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(4521, p_key);
  -- Lock the two counter rows in the order admissions always used (the month key sorts first).
  SELECT count(*) INTO found_rows FROM (
    SELECT 1 FROM quota_counters q WHERE q.api_key_id = p_key AND q.period_key IN (p_day, p_month) ORDER BY q.period_key FOR UPDATE
  ) locked;
  IF found_rows < 2 THEN
    -- A new day or month (or a new key): create the rows; the advisory lock keeps other admissions out.
    INSERT INTO quota_counters (api_key_id, period_key, requests, tokens, reserved_tokens)
      VALUES (p_key, p_day, 0, 0, 0), (p_key, p_month, 0, 0, 0) ON CONFLICT (api_key_id, period_key) DO NOTHING;
    PERFORM 1 FROM quota_counters q WHERE q.api_key_id = p_key AND q.period_key IN (p_day, p_month) ORDER BY q.period_key FOR UPDATE;
  END IF;
  SELECT q.requests, q.tokens, q.reserved_tokens INTO d FROM quota_counters q WHERE q.api_key_id = p_key AND q.period_key = p_day;
  SELECT q.requests, q.tokens, q.reserved_tokens INTO m FROM quota_counters q WHERE q.api_key_id = p_key AND q.period_key = p_month;
  day_requests := d.requests; day_tokens := d.tokens; day_reserved := d.reserved_tokens;
  month_requests := m.requests; month_tokens := m.tokens; month_reserved := m.reserved_tokens;
  admitted := false; reserved := 0; cap := NULL; held := false;

  -- Concurrency: requests in flight are the key's unsettled reservations.
  IF p_max_concurrent IS NOT NULL THEN
    SELECT count(*) INTO in_flight FROM quota_reservations r WHERE r.api_key_id = p_key;
    IF in_flight >= p_max_concurrent THEN
      kind := 'concurrency'; win := 'day'; lim := p_max_concurrent; held := true;
      RETURN NEXT; RETURN;
    END IF;
  END IF;

  -- Requests: this one must fit in every request limit (day first).
  IF p_daily_requests IS NOT NULL AND d.requests + 1 > p_daily_requests THEN
    kind := 'requests'; win := 'day'; lim := p_daily_requests; RETURN NEXT; RETURN;
  END IF;
  IF p_monthly_requests IS NOT NULL AND m.requests + 1 > p_monthly_requests THEN
    kind := 'requests'; win := 'month'; lim := p_monthly_requests; RETURN NEXT; RETURN;
  END IF;

  -- Tokens: the prompt (plus one output token if it generates) must fit in what each window has left.
  IF p_daily_tokens IS NOT NULL THEN
    d_left := p_daily_tokens - d.tokens - d.reserved_tokens;
    IF p_bound AND (p_headroom * (p_prompt + full_cap) > d_left OR needed > d_left) THEN
      kind := 'estimate'; RETURN NEXT; RETURN;
    END IF;
    IF needed > d_left THEN
      kind := 'tokens'; win := 'day'; lim := p_daily_tokens; held := needed <= p_daily_tokens - d.tokens;
      RETURN NEXT; RETURN;
    END IF;
  END IF;
  IF p_monthly_tokens IS NOT NULL THEN
    m_left := p_monthly_tokens - m.tokens - m.reserved_tokens;
    IF p_bound AND (p_headroom * (p_prompt + full_cap) > m_left OR needed > m_left) THEN
      kind := 'estimate'; RETURN NEXT; RETURN;
    END IF;
    IF needed > m_left THEN
      kind := 'tokens'; win := 'month'; lim := p_monthly_tokens; held := needed <= p_monthly_tokens - m.tokens;
      RETURN NEXT; RETURN;
    END IF;
  END IF;
  remaining := least(d_left, m_left); -- least() ignores NULLs: NULL only when no token limit

  IF remaining IS NULL THEN
    reserved := 0; cap := NULL;
  ELSE
    -- At least 1 when it generates: needed (prompt + 1) fit in every limited window. At most the rest.
    v_cap := CASE WHEN p_generates THEN least(remaining - p_prompt, full_cap) ELSE 0 END;
    reserved := p_prompt + v_cap;
    cap := CASE WHEN p_generates THEN v_cap ELSE NULL END;
  END IF;

  UPDATE quota_counters q SET requests = q.requests + 1, reserved_tokens = q.reserved_tokens + reserved
    WHERE q.api_key_id = p_key AND q.period_key IN (p_day, p_month);
  INSERT INTO quota_reservations (id, api_key_id, day_key, month_key, tokens, created_at, expires_at)
    VALUES (p_id, p_key, p_day, p_month, reserved, now(), now() + p_ttl_ms * interval '1 millisecond');
  admitted := true; kind := NULL;
  RETURN NEXT;
END
$fn$`;

/** As 1764500000000's, item after item in ascending key order, calling the new `llmproxy_admit`. */
const ADMIT_MANY = `
CREATE OR REPLACE FUNCTION llmproxy_admit_many(
  p_key integer[], p_day varchar[], p_month varchar[],
  p_daily_requests bigint[], p_monthly_requests bigint[], p_daily_tokens bigint[], p_monthly_tokens bigint[],
  p_prompt bigint[], p_bound boolean[], p_headroom bigint, p_requested numeric[], p_default_cap bigint, p_generates boolean[],
  p_max_concurrent bigint[], p_id varchar[], p_ttl_ms bigint)
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
      p_id[i], p_ttl_ms) a;
  END LOOP;
END
$fn$`;

/** The previous release's signature, onto the new rule and the database's clock. */
const ADMIT_PREVIOUS = `
CREATE OR REPLACE FUNCTION llmproxy_admit(
  p_key integer, p_day varchar, p_month varchar,
  p_daily_requests bigint, p_monthly_requests bigint, p_daily_tokens bigint, p_monthly_tokens bigint,
  p_prompt bigint, p_bound boolean, p_headroom bigint, p_requested bigint, p_default_cap bigint, p_generates boolean,
  p_max_concurrent bigint, p_id varchar, p_created timestamptz, p_expires timestamptz)
RETURNS TABLE (
  admitted boolean, kind text, win text, lim bigint, held boolean, reserved bigint, cap bigint,
  day_requests bigint, day_tokens bigint, day_reserved bigint,
  month_requests bigint, month_tokens bigint, month_reserved bigint)
LANGUAGE sql AS $fn$
  SELECT * FROM llmproxy_admit(p_key, p_day, p_month, p_daily_requests, p_monthly_requests, p_daily_tokens, p_monthly_tokens,
    p_prompt, p_bound, p_headroom, p_requested::numeric, p_default_cap, p_generates, p_max_concurrent, p_id,
    (extract(epoch FROM p_expires - p_created) * 1000)::bigint)
$fn$`;

export class QuotaRules1764700000000 implements MigrationInterface {
  name = 'QuotaRules1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (!columnTypes(queryRunner).postgres) return;
    await queryRunner.query(ADMIT);
    await queryRunner.query(ADMIT_MANY);
    await queryRunner.query(ADMIT_PREVIOUS);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (!columnTypes(queryRunner).postgres) return;
    await queryRunner.query(
      'DROP FUNCTION IF EXISTS llmproxy_admit_many(integer[], varchar[], varchar[], bigint[], bigint[], bigint[], bigint[], bigint[], boolean[], bigint, numeric[], bigint, boolean[], bigint[], varchar[], bigint)',
    );
    await queryRunner.query(
      'DROP FUNCTION IF EXISTS llmproxy_admit(integer, varchar, varchar, bigint, bigint, bigint, bigint, bigint, boolean, bigint, numeric, bigint, boolean, bigint, varchar, bigint)',
    );
    // The previous signatures' own bodies again.
    await new QuotaAdmit1764400000000().up(queryRunner);
    await new QuotaBatch1764500000000().up(queryRunner);
  }
}
