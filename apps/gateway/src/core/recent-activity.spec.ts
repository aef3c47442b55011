import { RecentActivity, refusalOfStatus } from './recent-activity.js';

describe('RecentActivity', () => {
  it('counts a minute at a time over the last hour, and forgets what is older', () => {
    const clock = { now: Date.UTC(2026, 11, 4, 12, 0, 30) };
    const recent = new RecentActivity(() => clock.now);
    recent.request();
    recent.request();
    recent.refused('unauthorized');
    clock.now += 60_000; // 12:01
    recent.request();
    recent.refused('quota_tokens');
    let hour = recent.lastHour();
    expect(hour.perMinute).toHaveLength(60);
    expect(hour.perMinute.slice(-2)).toEqual([
      { minute: '2026-12-04T12:00:00.000Z', requests: 2 },
      { minute: '2026-12-04T12:01:00.000Z', requests: 1 },
    ]);
    expect(hour.refusals).toMatchObject({ unauthorized: 1, quota_tokens: 1, overloaded: 0 });

    // 59 minutes later 12:00 has left the window (its slot is reused), 12:01 is the oldest minute.
    clock.now += 59 * 60_000; // 13:00
    recent.request();
    hour = recent.lastHour();
    expect(hour.perMinute[0]).toEqual({ minute: '2026-12-04T12:01:00.000Z', requests: 1 });
    expect(hour.perMinute.at(-1)).toEqual({ minute: '2026-12-04T13:00:00.000Z', requests: 1 });
    expect(hour.perMinute.reduce((sum, m) => sum + m.requests, 0)).toBe(2);
    expect(hour.refusals).toMatchObject({ unauthorized: 0, quota_tokens: 1 });

    // Two hours of silence: nothing left.
    clock.now += 120 * 60_000;
    hour = recent.lastHour();
    expect(hour.perMinute.every((m) => m.requests === 0)).toBe(true);
    expect(Object.values(hour.refusals).every((n) => n === 0)).toBe(true);
  });

  it('tells refusals by status where the status says it, and leaves quota and overload to their own hooks', () => {
    expect([200, 401, 403, 404, 400, 413, 429, 503, 529, 502].map(refusalOfStatus)).toEqual([
      undefined,
      'unauthorized',
      'forbidden',
      'not_found',
      'bad_request',
      'bad_request',
      undefined,
      undefined,
      undefined,
      'upstream',
    ]);
  });
});
