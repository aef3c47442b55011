/** The stores' statements, written once; `?` placeholders (the PostgreSQL client numbers them). */
export const SQL = {
  ensureCounters:
    'INSERT INTO quota_counters (api_key_id, period_key, requests, tokens, reserved_tokens) VALUES (?, ?, 0, 0, 0), (?, ?, 0, 0, 0) ON CONFLICT (api_key_id, period_key) DO NOTHING',
  insertReservation:
    'INSERT INTO quota_reservations (id, api_key_id, day_key, month_key, tokens, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  countReservations: 'SELECT count(*) AS n FROM quota_reservations WHERE api_key_id = ?',
  deleteReservation: 'DELETE FROM quota_reservations WHERE id = ?',
  settleCounters:
    'UPDATE quota_counters SET tokens = tokens + ?, reserved_tokens = reserved_tokens - ? WHERE api_key_id = ? AND period_key IN (?, ?)',
  /** The SQLite ledger's batch: what changed in a counter row, added to it (the rows exist: see `ensureCounters`). */
  addCounterDeltas:
    'UPDATE quota_counters SET requests = requests + ?, tokens = tokens + ?, reserved_tokens = reserved_tokens + ? WHERE api_key_id = ? AND period_key = ?',
  /** The SQLite ledger's batch: the settlements of one key, model and hour, added to the rollup row. */
  addRollupDeltas: `INSERT INTO usage_rollup (api_key_id, model, bucket_start, requests, prompt_tokens, completion_tokens, estimated_requests, failed_requests)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (api_key_id, model, bucket_start) DO UPDATE SET
      requests = usage_rollup.requests + excluded.requests,
      prompt_tokens = usage_rollup.prompt_tokens + excluded.prompt_tokens,
      completion_tokens = usage_rollup.completion_tokens + excluded.completion_tokens,
      estimated_requests = usage_rollup.estimated_requests + excluded.estimated_requests,
      failed_requests = usage_rollup.failed_requests + excluded.failed_requests`,
  /** The SQLite ledger's batch: the settlements of one key, model, upstream ('' = none) and hour, added to the per-upstream rollup row. */
  addUpstreamRollupDeltas: `INSERT INTO usage_upstream_rollup (api_key_id, model, upstream, bucket_start, requests, prompt_tokens, completion_tokens, failed_requests)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (api_key_id, model, upstream, bucket_start) DO UPDATE SET
      requests = usage_upstream_rollup.requests + excluded.requests,
      prompt_tokens = usage_upstream_rollup.prompt_tokens + excluded.prompt_tokens,
      completion_tokens = usage_upstream_rollup.completion_tokens + excluded.completion_tokens,
      failed_requests = usage_upstream_rollup.failed_requests + excluded.failed_requests`,
  extendReservation: 'UPDATE quota_reservations SET expires_at = ? WHERE id = ?',
  selectExpired: 'SELECT id, api_key_id, day_key, month_key, tokens FROM quota_reservations WHERE expires_at < ?',
  selectAllCounters: 'SELECT api_key_id, period_key, requests, tokens, reserved_tokens FROM quota_counters WHERE period_key IN (?, ?)',
  selectKeyCounters:
    'SELECT api_key_id, period_key, requests, tokens, reserved_tokens FROM quota_counters WHERE api_key_id = ? AND period_key IN (?, ?)',
} as const;
