import { MAX_FAILURES, retryAfterSeconds, throttleKey, WINDOW_MS } from './auth-throttle.js';

describe('retryAfterSeconds', () => {
  const t0 = Date.UTC(2026, 10, 26, 12, 0, 0);
  const failuresEverySecond = (n: number) => Array.from({ length: n }, (_, i) => t0 + i * 1000);

  it('lets ten failures a minute through and refuses the next attempt until the first failure is a minute old', () => {
    expect(retryAfterSeconds(failuresEverySecond(9), t0 + 9_000)).toBe(0);
    const ten = failuresEverySecond(10);
    expect(retryAfterSeconds(ten, t0 + 10_000)).toBe(50);
    expect(retryAfterSeconds(ten, t0 + 59_999)).toBe(1);
    expect(retryAfterSeconds(ten, t0 + 60_000)).toBe(0);
  });

  it('with more failures than the limit (replicas racing), waits for the tenth newest to leave the window', () => {
    const twelve = failuresEverySecond(12);
    expect(retryAfterSeconds(twelve, t0 + 12_000)).toBe(50); // the 3rd failure (t0 + 2 s) leaves at t0 + 62 s
    expect(retryAfterSeconds([...twelve].reverse(), t0 + 61_999)).toBe(1);
    expect(retryAfterSeconds(twelve, t0 + 62_000)).toBe(0);
  });

  it('never asks for more than the window, whatever the clocks say', () => {
    expect(retryAfterSeconds(Array(10).fill(t0 + 3_600_000), t0)).toBe(60);
  });

  // Generated inputs: the rule restated as "refused exactly when MAX_FAILURES failures are in the
  // window", and "the wait ends exactly when the count drops below the limit".
  it('holds on generated histories', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let run = 0; run < 2_000; run++) {
      const failures = Array.from({ length: Math.floor(random() * 25) }, () => t0 + Math.floor(random() * 120_000));
      const now = t0 + Math.floor(random() * 150_000);
      const inWindow = (at: number) => failures.filter((f) => f > at - WINDOW_MS && f <= now).length;
      const wait = retryAfterSeconds(failures.filter((f) => f <= now), now);
      expect(wait === 0).toBe(inWindow(now) < MAX_FAILURES);
      if (wait > 0) {
        expect(wait).toBeLessThanOrEqual(60);
        expect(inWindow(now + wait * 1000 - 1000)).toBeGreaterThanOrEqual(MAX_FAILURES);
        expect(retryAfterSeconds(failures.filter((f) => f <= now), now + wait * 1000)).toBe(0);
      }
    }
  });
});

describe('throttleKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:127.0.0.1', '127.0.0.1'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:85a3::8a2e:370:7334', '2001:db8:85a3:0::/64'],
    ['2001:0db8:85a3:0000:ffff:8a2e:0370:7334', '2001:db8:85a3:0::/64'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0:0::/64'],
    ['unknown', 'unknown'],
  ])('%s → %s', (address, key) => {
    expect(throttleKey(address)).toBe(key);
  });

  it('puts every address of one /64 under one key, and different /64s under different keys', () => {
    expect(throttleKey('2001:db8:aa:bb::1')).toBe(throttleKey('2001:db8:aa:bb:ffff:ffff:ffff:fffe'));
    expect(throttleKey('2001:db8:aa:bb::1')).not.toBe(throttleKey('2001:db8:aa:bc::1'));
  });

  it('bounds whatever else an X-Forwarded-For may carry', () => {
    expect(throttleKey('x'.repeat(5_000))).toHaveLength(100);
  });
});
