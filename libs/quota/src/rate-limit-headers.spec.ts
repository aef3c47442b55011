import type { QuotaLimits } from '@llmproxy/keys';
import { bindingLimit, formatDuration, rateLimitHeaders } from './rate-limit-headers.js';
import { currentWindows } from './windows.js';

const now = new Date('2026-11-26T22:54:00Z'); // 23:54 in Berlin: the day ends in 6 minutes
const windows = currentWindows(now, 'Europe/Berlin');
const limits: QuotaLimits = { dailyTokens: 1000, monthlyTokens: 100_000, dailyRequests: 50, monthlyRequests: 60 };

describe('rate-limit headers', () => {
  it('formats resets as OpenAI does', () => {
    expect(formatDuration(360)).toBe('6m0s');
    expect(formatDuration(3723)).toBe('1h2m3s');
    expect(formatDuration(0.2)).toBe('1s');
  });

  it('picks the window with the least remaining', () => {
    const counters = { day: { requests: 10, tokens: 100, reservedTokens: 0 }, month: { requests: 55, tokens: 500, reservedTokens: 0 } };
    expect(bindingLimit('requests', limits, counters, windows)).toMatchObject({ limit: 60, remaining: 5, window: windows.month });
    expect(bindingLimit('tokens', limits, counters, windows)).toMatchObject({ limit: 1000, remaining: 900, window: windows.day });
    expect(bindingLimit('tokens', { ...limits, dailyTokens: null, monthlyTokens: null }, counters, windows)).toBeNull();
  });

  it('counts reserved tokens as used and sets both header families on /v1/messages', () => {
    const counters = { day: { requests: 3, tokens: 100, reservedTokens: 250 }, month: { requests: 3, tokens: 100, reservedTokens: 250 } };
    expect(rateLimitHeaders(limits, counters, windows, now, true)).toEqual({
      'x-ratelimit-limit-requests': '50',
      'x-ratelimit-remaining-requests': '47',
      'x-ratelimit-reset-requests': '6m0s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '650',
      'x-ratelimit-reset-tokens': '6m0s',
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '47',
      'anthropic-ratelimit-requests-reset': '2026-11-26T23:00:00Z',
      'anthropic-ratelimit-tokens-limit': '1000',
      'anthropic-ratelimit-tokens-remaining': '650',
      'anthropic-ratelimit-tokens-reset': '2026-11-26T23:00:00Z',
    });
  });
});
