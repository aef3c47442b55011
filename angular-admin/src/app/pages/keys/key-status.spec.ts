import type { ApiKeyWithUsage } from '../../api/admin-api.types';
import { keyStatus, offsetOf, quotaBars } from './key-status';

const NOW = new Date('2025-03-30T12:00:00Z');

describe('keyStatus', () => {
  it('is active when enabled and not past its expiry (or without one)', () => {
    expect(keyStatus({ is_active: true, expires_at: null }, NOW)).toBe('active');
    expect(keyStatus({ is_active: true, expires_at: '2025-03-30T12:00:01Z' }, NOW)).toBe('active');
  });

  it('is inactive when disabled', () => {
    expect(keyStatus({ is_active: false, expires_at: null }, NOW)).toBe('inactive');
  });

  it('is expired from the expiry instant on, whether enabled or not', () => {
    expect(keyStatus({ is_active: true, expires_at: '2025-03-30T12:00:00Z' }, NOW)).toBe('expired');
    expect(keyStatus({ is_active: false, expires_at: '2025-03-30T13:00:00+02:00' }, NOW)).toBe('expired');
  });
});

describe('quotaBars', () => {
  const usage: ApiKeyWithUsage['usage'] = {
    day: { requests: 3, tokens: 400, reserved_tokens: 100, request_limit: 10, token_limit: 1000, resets_at: '2025-03-31T00:00:00+02:00' },
    month: { requests: 30, tokens: 5000, reserved_tokens: 0, request_limit: 20, token_limit: null, resets_at: '2025-04-01T00:00:00+02:00' },
  };

  it('gives used of limit per quota, counting reserved tokens in the share', () => {
    const [dayRequests, dayTokens, monthRequests, monthTokens] = quotaBars({ usage });
    expect(dayRequests).toMatchObject({ id: 'daily-requests', used: 3, limit: 10, percent: 30, resetsAt: '2025-03-31T00:00:00+02:00' });
    expect(dayTokens).toMatchObject({ id: 'daily-tokens', used: 400, reserved: 100, limit: 1000, percent: 50 });
    expect(monthRequests).toMatchObject({ id: 'monthly-requests', used: 30, limit: 20, percent: 100 });
    expect(monthTokens).toMatchObject({ id: 'monthly-tokens', used: 5000, limit: null, percent: 0, resetsAt: '2025-04-01T00:00:00+02:00' });
  });

  it('shows a zero limit as full', () => {
    const bars = quotaBars({ usage: { ...usage, day: { ...usage.day, requests: 0, request_limit: 0 } } });
    expect(bars[0].percent).toBe(100);
  });
});

describe('offsetOf', () => {
  it('turns the offset of an ISO date-time into the zone DatePipe takes, so resets show in APP_TZ', () => {
    expect(offsetOf('2026-11-27T00:00:00+01:00')).toBe('+0100');
    expect(offsetOf('2026-06-01T00:00:00+02:00')).toBe('+0200');
    expect(offsetOf('2026-06-01T00:00:00-04:30')).toBe('-0430');
    expect(offsetOf('2026-06-01T00:00:00Z')).toBe('+0000');
  });
});
