import { LoginThrottle } from './login-throttle.js';

describe('LoginThrottle', () => {
  const t0 = Date.UTC(2026, 10, 26, 12, 0, 0);

  it('lets ten failures a minute through and refuses the eleventh attempt until the first failure is a minute old', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < 10; i++) {
      expect(throttle.retryAfterSeconds('10.0.0.1', t0 + i * 1000)).toBe(0);
      throttle.recordFailure('10.0.0.1', t0 + i * 1000);
    }
    expect(throttle.retryAfterSeconds('10.0.0.1', t0 + 10_000)).toBe(50);
    expect(throttle.retryAfterSeconds('10.0.0.1', t0 + 59_999)).toBe(1);
    expect(throttle.retryAfterSeconds('10.0.0.1', t0 + 60_000)).toBe(0);
  });

  it('counts each address on its own', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < 10; i++) throttle.recordFailure('10.0.0.1', t0);
    expect(throttle.retryAfterSeconds('10.0.0.1', t0)).toBeGreaterThan(0);
    expect(throttle.retryAfterSeconds('10.0.0.2', t0)).toBe(0);
  });

  it('forgets an address after a successful login', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < 9; i++) throttle.recordFailure('10.0.0.1', t0);
    throttle.recordSuccess('10.0.0.1');
    throttle.recordFailure('10.0.0.1', t0);
    expect(throttle.retryAfterSeconds('10.0.0.1', t0)).toBe(0);
  });
});
