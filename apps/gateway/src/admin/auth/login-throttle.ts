/** Failed logins tolerated per client address and window; the next attempt is refused (429). */
export const MAX_FAILURES = 10;
export const WINDOW_MS = 60_000;
/** Bound on the addresses remembered, so a flood of spoofed sources cannot grow the map without end. */
const MAX_ADDRESSES = 10_000;

/**
 * Failed logins per client address over a sliding minute. In memory, per process: with several
 * replicas behind a load balancer an attacker gets MAX_FAILURES per replica and minute, which still
 * makes guessing a decent password hopeless; it forgets everything on restart.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures = MAX_FAILURES,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /** Seconds until `client` may try again, or 0 when it may try now. */
  retryAfterSeconds(client: string, now = Date.now()): number {
    const recent = this.recent(client, now);
    if (recent.length < this.maxFailures) return 0;
    const oldestThatCounts = recent[recent.length - this.maxFailures]!;
    return Math.max(1, Math.ceil((oldestThatCounts + this.windowMs - now) / 1000));
  }

  recordFailure(client: string, now = Date.now()): void {
    const recent = this.recent(client, now);
    recent.push(now);
    this.failures.delete(client); // re-insert: the map's order is least recently failed first
    if (this.failures.size >= MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(client, recent);
  }

  /** A correct password clears the address's failures. */
  recordSuccess(client: string): void {
    this.failures.delete(client);
  }

  private recent(client: string, now: number): number[] {
    const all = this.failures.get(client);
    if (!all) return [];
    const recent = all.filter((at) => at > now - this.windowMs);
    if (recent.length === 0) this.failures.delete(client);
    else if (recent.length !== all.length) this.failures.set(client, recent);
    return recent;
  }
}
