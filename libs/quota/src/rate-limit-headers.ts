import type { QuotaLimits } from '@llmproxy/keys';
import type { WindowCounters } from './admission.js';
import type { CurrentWindows, QuotaWindow } from './windows.js';

export interface BindingLimit {
  limit: number;
  remaining: number;
  window: QuotaWindow;
}

/** The window that runs out first for `kind` (least remaining; the sooner reset on a tie), or null without limits. */
export function bindingLimit(
  kind: 'requests' | 'tokens',
  limits: QuotaLimits,
  counters: { day: WindowCounters; month: WindowCounters },
  windows: CurrentWindows,
): BindingLimit | null {
  const candidates: BindingLimit[] = [];
  const daily = kind === 'requests' ? limits.dailyRequests : limits.dailyTokens;
  const monthly = kind === 'requests' ? limits.monthlyRequests : limits.monthlyTokens;
  const used = (c: WindowCounters) => (kind === 'requests' ? c.requests : c.tokens + c.reservedTokens);
  if (daily !== null) candidates.push({ limit: daily, remaining: Math.max(0, daily - used(counters.day)), window: windows.day });
  if (monthly !== null) candidates.push({ limit: monthly, remaining: Math.max(0, monthly - used(counters.month)), window: windows.month });
  if (candidates.length === 0) return null;
  return candidates.reduce((best, next) => (next.remaining < best.remaining ? next : best));
}

/** OpenAI's reset format: `6m0s`, `1h2m3s`, `45s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${m}m${rest}s`;
  if (m > 0) return `${m}m${rest}s`;
  return `${rest}s`;
}

/**
 * Rate-limit headers of an admitted inference response, for the window that binds first:
 * OpenAI's `x-ratelimit-*` always, Anthropic's `anthropic-ratelimit-*` too when asked.
 * A kind without any limit gets no headers.
 */
export function rateLimitHeaders(
  limits: QuotaLimits,
  counters: { day: WindowCounters; month: WindowCounters },
  windows: CurrentWindows,
  now: Date,
  anthropic: boolean,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const kind of ['requests', 'tokens'] as const) {
    const binding = bindingLimit(kind, limits, counters, windows);
    if (!binding) continue;
    headers[`x-ratelimit-limit-${kind}`] = String(binding.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(binding.remaining);
    headers[`x-ratelimit-reset-${kind}`] = formatDuration((binding.window.end.getTime() - now.getTime()) / 1000);
    if (anthropic) {
      headers[`anthropic-ratelimit-${kind}-limit`] = String(binding.limit);
      headers[`anthropic-ratelimit-${kind}-remaining`] = String(binding.remaining);
      headers[`anthropic-ratelimit-${kind}-reset`] = binding.window.end.toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
  }
  return headers;
}
