export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failures: number;
  /** How long an open breaker keeps the upstream out before one probe may pass. */
  cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failures: 3, cooldownMs: 10_000 };

/**
 * One upstream's circuit breaker. Consecutive failures (a refused or reset connection, a 5xx, a
 * timeout before the first byte, a failed health poll) open it: the upstream is out of the rotation
 * for `cooldownMs`. Then it is half open: one request (or the next poll) is the probe — its success
 * closes the breaker, its failure opens it for another cooldown. Any success resets the count.
 * Pure: the clock is passed in.
 */
export class CircuitBreaker {
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  private current: BreakerState = 'closed';

  constructor(private readonly options: BreakerOptions = DEFAULT_BREAKER) {}

  state(now: number): BreakerState {
    if (this.current === 'open' && now - this.openedAt >= this.options.cooldownMs) {
      this.current = 'half_open';
      this.probing = false;
    }
    return this.current;
  }

  /** Whether a request may go to the upstream now; in the half-open state only one (the probe) may. */
  allows(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    return state === 'half_open' && !this.probing;
  }

  /** A request passed while half open: it is the probe, and no other passes until it ends. */
  taken(now: number): void {
    if (this.state(now) === 'half_open') this.probing = true;
  }

  success(): void {
    this.consecutive = 0;
    this.probing = false;
    this.current = 'closed';
  }

  failure(now: number): void {
    this.consecutive += 1;
    this.probing = false;
    if (this.current === 'half_open' || this.consecutive >= this.options.failures) {
      this.current = 'open';
      this.openedAt = now;
    }
  }

  get consecutiveFailures(): number {
    return this.consecutive;
  }
}
