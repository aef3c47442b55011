import type { MigrationInterface, QueryRunner } from 'typeorm';
import { columnTypes } from './column-types.js';

/**
 * PostgreSQL only (a no-op on SQLite): `llmproxy_admit`, the whole admission in one statement, so
 * the data plane admits in one round trip through the pool instead of eight (connect, BEGIN,
 * advisory lock, ensure counters, lock counters, count reservations, update, insert, COMMIT).
 *
 * Called as a single autocommit `SELECT * FROM llmproxy_admit(…)`: its transaction holds the key's
 * advisory lock (namespace 0x11a9 = 4521, the same lock settlement takes first — no deadlocks) and the
 * key's two counter rows (month first, as before) only for the microseconds the function runs.
 *
 * The rules are `decideAdmission` / `decideWithBound` in libs/quota/src/admission.ts, mirrored
 * here statement by statement; test/quota-admit.e2e-spec.ts compares the two on
 * generated inputs. Change both together.
 *
 * p_bound: p_prompt is an upper bound of the prompt estimate, not the estimate. Then the bound is
 * used only when it cannot change the decision (BOUND_HEADROOM: every limited token window has at
 * least p_headroom × (bound + full completion) left); otherwise nothing is changed and the row
 * says kind = 'estimate': call again with the exact estimate.
 */
const CREATE = `
CREATE OR REPLACE FUNCTION llmproxy_admit(
  p_key integer, p_day varchar, p_month varchar,
  p_daily_requests bigint, p_monthly_requests bigint, p_daily_tokens bigint, p_monthly_tokens bigint,
  p_prompt bigint, p_bound boolean, p_headroom bigint, p_requested bigint, p_default_cap bigint, p_generates boolean,
  p_max_concurrent bigint, p_id varchar, p_created timestamptz, p_expires timestamptz)
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
  full_cap bigint := CASE WHEN p_generates THEN coalesce(p_requested, p_default_cap) ELSE 0 END;
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
    v_cap := CASE WHEN p_generates THEN least(remaining - p_prompt, coalesce(p_requested, p_default_cap)) ELSE 0 END;
    reserved := p_prompt + v_cap;
    cap := CASE WHEN p_generates THEN v_cap ELSE NULL END;
  END IF;

  UPDATE quota_counters q SET requests = q.requests + 1, reserved_tokens = q.reserved_tokens + reserved
    WHERE q.api_key_id = p_key AND q.period_key IN (p_day, p_month);
  INSERT INTO quota_reservations (id, api_key_id, day_key, month_key, tokens, created_at, expires_at)
    VALUES (p_id, p_key, p_day, p_month, reserved, p_created, p_expires);
  admitted := true; kind := NULL;
  RETURN NEXT;
END
$fn$`;

export class QuotaAdmit1764400000000 implements MigrationInterface {
  name = 'QuotaAdmit1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (!columnTypes(queryRunner).postgres) return;
    await queryRunner.query(CREATE);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (!columnTypes(queryRunner).postgres) return;
    await queryRunner.query(
      'DROP FUNCTION IF EXISTS llmproxy_admit(integer, varchar, varchar, bigint, bigint, bigint, bigint, bigint, boolean, bigint, bigint, bigint, boolean, bigint, varchar, timestamptz, timestamptz)',
    );
  }
}
