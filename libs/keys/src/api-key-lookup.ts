import { Injectable } from '@nestjs/common';
import { readTimestamp, SqlClient } from '@llmproxy/persistence';
import type { ApiKeyRecord } from './api-key.js';
import { hashKey } from './key-material.js';

const BY_HASH = `SELECT id, name, is_active, expires_at, allowed_models, max_concurrent,
  daily_token_limit, monthly_token_limit, daily_request_limit, monthly_request_limit
  FROM api_keys WHERE key_hash = ?`;
const TOUCH = 'UPDATE api_keys SET last_used_at = ? WHERE id = ?';
/** last_used_at is informational: written at most once a minute per key and process. */
const TOUCH_INTERVAL_MS = 60_000;

export type KeyCheck =
  | { ok: true; key: ApiKeyRecord }
  | { ok: false; reason: 'missing' | 'unknown' | 'inactive' | 'expired'; message: string };

/** The proxy's key check: one indexed, prepared lookup by SHA-256 per request. */
@Injectable()
export class ApiKeyLookup {
  private readonly touched = new Map<number, number>();

  constructor(private readonly sql: SqlClient) {}

  async check(plaintext: string | undefined, now = new Date()): Promise<KeyCheck> {
    if (!plaintext) {
      return { ok: false, reason: 'missing', message: 'API key required: send it as Authorization: Bearer <key> or x-api-key' };
    }
    const row = await this.sql.one(BY_HASH, [hashKey(plaintext)]);
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
    limits: {
      dailyTokens: nullableNumber(row.daily_token_limit),
      monthlyTokens: nullableNumber(row.monthly_token_limit),
      dailyRequests: nullableNumber(row.daily_request_limit),
      monthlyRequests: nullableNumber(row.monthly_request_limit),
    },
  };
}
