import type { ApiKeyView, ApiKeyWithUsage, UsageWindow } from '../../api/admin-api.types';

export type KeyStatus = 'active' | 'inactive' | 'expired';

/** Expired wins over inactive: activating an expired key would not let it through. */
export function keyStatus(key: Pick<ApiKeyView, 'is_active' | 'expires_at'>, now: Date): KeyStatus {
  if (key.expires_at !== null && Date.parse(key.expires_at) <= now.getTime()) return 'expired';
  return key.is_active ? 'active' : 'inactive';
}

export type QuotaId = 'daily-requests' | 'daily-tokens' | 'monthly-requests' | 'monthly-tokens';

export interface QuotaBar {
  id: QuotaId;
  label: string;
  /** Requests made, or tokens settled, in the current window. */
  used: number;
  /** Tokens held by requests still running (0 for request quotas). */
  reserved: number;
  /** null: unlimited. */
  limit: number | null;
  /** Share of the limit taken, settled and reserved together, 0–100; 0 when unlimited. */
  percent: number;
  resetsAt: string;
  /** The offset of APP_TZ at the reset (`+0100`), so the time shows as the server counts it, not in the browser's zone. */
  resetsOffset: string;
}

/** `+01:00` / `Z` at the end of an ISO date-time, as Angular's DatePipe takes a zone: `+0100`. */
export function offsetOf(iso: string): string {
  const match = /([+-])(\d\d):?(\d\d)$/.exec(iso);
  return match ? `${match[1]}${match[2]}${match[3]}` : '+0000';
}

export function quotaBars(key: Pick<ApiKeyWithUsage, 'usage'>): QuotaBar[] {
  const { day, month } = key.usage;
  return [
    requestBar('daily-requests', 'Requests today', day),
    tokenBar('daily-tokens', 'Tokens today', day),
    requestBar('monthly-requests', 'Requests this month', month),
    tokenBar('monthly-tokens', 'Tokens this month', month),
  ];
}

function requestBar(id: QuotaId, label: string, window: UsageWindow): QuotaBar {
  return bar(id, label, window.requests, 0, window.request_limit, window.resets_at);
}

function tokenBar(id: QuotaId, label: string, window: UsageWindow): QuotaBar {
  return bar(id, label, window.tokens, window.reserved_tokens ?? 0, window.token_limit, window.resets_at);
}

function bar(id: QuotaId, label: string, used: number, reserved: number, limit: number | null, resetsAt: string): QuotaBar {
  return { id, label, used, reserved, limit, percent: percentOf(used + reserved, limit), resetsAt, resetsOffset: offsetOf(resetsAt) };
}

function percentOf(taken: number, limit: number | null): number {
  if (limit === null) return 0;
  if (limit <= 0) return 100;
  return Math.min(100, Math.round((taken / limit) * 1000) / 10);
}
