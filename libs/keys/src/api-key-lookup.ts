import { Injectable } from '@nestjs/common';
import { Batcher, PostgresClient, readTimestamp, SqlClient, type Row } from '@llmproxy/persistence';
import type { ApiKeyRecord } from './api-key.js';
import { hashKey } from './key-material.js';

const COLUMNS = `id, name, is_active, expires_at, allowed_models, max_concurrent, queue_weight,
  daily_token_limit, monthly_token_limit, daily_request_limit, monthly_request_limit`;
const BY_HASH = `SELECT ${COLUMNS} FROM api_keys WHERE key_hash = ?`;
/** PostgreSQL: the lookups of a batch in one statement (see `ApiKeyLookup`). */
const BY_HASHES = `SELECT key_hash, ${COLUMNS} FROM api_keys WHERE key_hash = ANY(?::varchar[])`;
const TOUCH = 'UPDATE api_keys SET last_used_at = ? WHERE id = ?';
/** last_used_at is informational: written at most once a minute per key and process. */
const TOUCH_INTERVAL_MS = 60_000;

export type KeyCheck =
  | { ok: true; key: ApiKeyRecord }
  | { ok: false; reason: 'missing' | 'unknown' | 'inactive' | 'expired'; message: string };

/**
 * The proxy's key check: an indexed, prepared lookup by SHA-256 per request. On PostgreSQL the
 * lookups that arrive while one is in flight go as one `key_hash = ANY(…)` statement (natural
 * batching, `Batcher`): one round trip for many requests, a lone request still sent at once; it
 * reads the table each time, so a key deactivated or changed by the admin is seen by the next
 * batch. SQLite's lookup is synchronous and cheap, and stays one statement per request.
 */
@Injectable()
export class ApiKeyLookup {
  private readonly touched = new Map<number, number>();
  private readonly byHash: (hash: string) => Promise<Row | undefined>;

  constructor(private readonly sql: SqlClient) {
    if (sql instanceof PostgresClient) {
      const batcher = new Batcher<string, Row | undefined>(async (hashes) => {
        const rows = await sql.all(BY_HASHES, [[...new Set(hashes)]]);
        const found = new Map(rows.map((row) => [String(row.key_hash), row]));
        return hashes.map((hash) => found.get(hash));
      });
      this.byHash = (hash) => batcher.submit(hash);
    } else {
      this.byHash = (hash) => sql.one(BY_HASH, [hash]);
    }
  }

  async check(plaintext: string | undefined, now = new Date()): Promise<KeyCheck> {
    if (!plaintext) {
      return { ok: false, reason: 'missing', message: 'API key required: send it as Authorization: Bearer <key> or x-api-key' };
    }
    const row = await this.byHash(hashKey(plaintext));
    if (!row) return { ok: false, reason: 'unknown', message: 'invalid API key' };
    const key = toRecord(row);
    if (!key.isActive) return { ok: false, reason: 'inactive', message: 'API key is deactivated' };
    if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) {
      return { ok: false, reason: 'expired', message: `API key expired at ${key.expiresAt.toISOString()}` };
    }
    this.touch(key.id, now);
    return { ok: true, key };
  }

  private touch(id: number, now: Date): void {
    const last = this.touched.get(id) ?? 0;
    if (now.getTime() - last < TOUCH_INTERVAL_MS) return;
    this.touched.set(id, now.getTime());
    this.sql.run(TOUCH, [this.sql.timestamp(now), id]).catch(() => this.touched.delete(id));
  }
}

function toRecord(row: Record<string, unknown>): ApiKeyRecord {
  const nullableNumber = (value: unknown) => (value == null ? null : Number(value));
  return {
    id: Number(row.id),
    name: String(row.name),
    isActive: row.is_active === true || row.is_active === 1,
    expiresAt: readTimestamp(row.expires_at),
    allowedModels: row.allowed_models == null ? null : (JSON.parse(String(row.allowed_models)) as string[]),
    maxConcurrent: nullableNumber(row.max_concurrent),
    queueWeight: Number(row.queue_weight ?? 1) || 1,
    limits: {
      dailyTokens: nullableNumber(row.daily_token_limit),
      monthlyTokens: nullableNumber(row.monthly_token_limit),
      dailyRequests: nullableNumber(row.daily_request_limit),
      monthlyRequests: nullableNumber(row.monthly_request_limit),
    },
  };
}
