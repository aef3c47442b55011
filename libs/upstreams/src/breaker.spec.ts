import { CircuitBreaker, DEFAULT_BREAKER } from './breaker.js';

describe('CircuitBreaker', () => {
  const options = { failures: 3, cooldownMs: 1_000 };

  it('starts closed and lets requests through', () => {
    const breaker = new CircuitBreaker(options);
    expect(breaker.state(0)).toBe('closed');
    expect(breaker.allows(0)).toBe(true);
    expect(breaker.consecutiveFailures).toBe(0);
  });

  it('uses the default options when none are given (3 failures, 10 s)', () => {
    const breaker = new CircuitBreaker();
    expect(DEFAULT_BREAKER).toEqual({ failures: 3, cooldownMs: 10_000 });
    breaker.failure(0);
    breaker.failure(0);
    expect(breaker.state(0)).toBe('closed');
    breaker.failure(0);
    expect(breaker.state(9_999)).toBe('open');
    expect(breaker.state(10_000)).toBe('half_open');
  });

  it('stays closed below the threshold and opens at exactly N consecutive failures', () => {
    const breaker = new CircuitBreaker(options);
    breaker.failure(100);
    breaker.failure(100);
    expect(breaker.consecutiveFailures).toBe(2);
    expect(breaker.state(100)).toBe('closed');
    expect(breaker.allows(100)).toBe(true);
    breaker.failure(100);
    expect(breaker.consecutiveFailures).toBe(3);
    expect(breaker.state(100)).toBe('open');
    expect(breaker.allows(100)).toBe(false);
  });

  it('stays open for the whole cooldown, then is half open', () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 3; i++) breaker.failure(5_000);
    expect(breaker.allows(5_000)).toBe(false);
    expect(breaker.allows(5_500)).toBe(false);
    expect(breaker.state(5_999)).toBe('open');
    expect(breaker.allows(5_999)).toBe(false);
    expect(breaker.state(6_000)).toBe('half_open');
  });

  it('lets exactly one probe through while half open', () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 3; i++) breaker.failure(0);
    expect(breaker.allows(1_000)).toBe(true);
    // Asking again without taking does not consume the probe.
    expect(breaker.allows(1_000)).toBe(true);
    breaker.taken(1_000);
    expect(breaker.state(1_000)).toBe('half_open');
    expect(breaker.allows(1_000)).toBe(false);
    expect(breaker.allows(1_500)).toBe(false);
    expect(breaker.allows(50_000)).toBe(false);
  });

  it('closes when the probe succeeds', () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 3; i++) breaker.failure(0);
    breaker.taken(1_000);
    breaker.success();
    expect(breaker.state(1_000)).toBe('closed');
    expect(breaker.allows(1_000)).toBe(true);
    expect(breaker.consecutiveFailures).toBe(0);
    // Closed for real: the next single failure does not reopen it.
    breaker.failure(1_001);
    expect(breaker.state(1_001)).toBe('closed');
  });

  it('reopens for another full cooldown when the probe fails', () => {
    const breaker = new CircuitBreaker(options);
    for (let i = 0; i < 3; i++) breaker.failure(0);
    expect(breaker.allows(1_000)).toBe(true);
    breaker.taken(1_000);
    breaker.failure(1_200);
    expect(breaker.state(1_200)).toBe('open');
    expect(breaker.allows(2_000)).toBe(false); // the old cooldown would have ended at 1_000
    expect(breaker.state(2_199)).toBe('open');
    expect(breaker.state(2_200)).toBe('half_open');
    expect(breaker.allows(2_200)).toBe(true); // a new probe
  });

  it('reopens on a single failure while half open even below the threshold', () => {
    const breaker = new CircuitBreaker({ failures: 5, cooldownMs: 100 });
    for (let i = 0; i < 5; i++) breaker.failure(0);
    expect(breaker.state(100)).toBe('half_open');
    breaker.taken(100);
    breaker.success();
    for (let i = 0; i < 5; i++) breaker.failure(200);
    expect(breaker.state(300)).toBe('half_open');
    breaker.failure(300);
    expect(breaker.state(300)).toBe('open');
  });

  it('resets the count on any success: failures must be consecutive', () => {
    const breaker = new CircuitBreaker(options);
    breaker.failure(0);
    breaker.failure(0);
    breaker.success();
    expect(breaker.consecutiveFailures).toBe(0);
    breaker.failure(0);
    breaker.failure(0);
    expect(breaker.state(0)).toBe('closed');
    expect(breaker.allows(0)).toBe(true);
    breaker.failure(0);
    expect(breaker.state(0)).toBe('open');
  });

  it('taken() does nothing while closed', () => {
    const breaker = new CircuitBreaker(options);
    breaker.taken(0);
    breaker.taken(0);
    expect(breaker.allows(0)).toBe(true);
  });
});
