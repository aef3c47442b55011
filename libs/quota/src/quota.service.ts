import type { KeyUsage, UsageWindow as WindowUsage } from '@llmproxy/api-types';
import type { ApiKeyRecord, QuotaLimits } from '@llmproxy/keys';
import { refusalMessage, type QuotaKind } from './admission.js';
import { QuotaStore, type KeyCounters, type PromptTokens, type Reservation, type Settlement } from './quota-store.js';
import { rateLimitHeaders } from './rate-limit-headers.js';
import { currentWindows, formatLocal, secondsUntil, type CurrentWindows, type QuotaWindow } from './windows.js';

/** How long an unsettled reservation survives without its process renewing it. */
export const RESERVATION_TTL_MS = 5 * 60_000;
/** A failed settlement is tried again after 1 s, 2 s, … (at most 10 s apart) for up to 4 minutes. */
const SETTLE_RETRY_MS = 1_000;
const SETTLE_RETRY_FOR_MS = 4 * 60_000;

export interface AdmitInput {
  key: ApiKeyRecord;
  /** The estimate, or a bound of it with a way to compute it (see `decideWithBound`). */
  promptEstimate: number | PromptTokens;
  requestedMaxTokens: number | null;
  generates: boolean;
  anthropicHeaders: boolean;
  now?: Date;
}

export type AdmitResult =
  | { admitted: true; reservation: Reservation; headers: Record<string, string> }
  | {
      admitted: false;
      kind: QuotaKind;
      message: string;
      retryAfterSeconds: number;
      /**
       * Whether waiting a few seconds can cure it: the key's own requests in flight hold what is
       * missing. An exhausted window is not: clients must not sleep until it resets.
       */
      retryable: boolean;
      window: QuotaWindow;
    };

/** What the admin API and GET /v1/usage show of a key's windows (the shared wire types). */
export type { KeyUsage, WindowUsage };

/**
 * Quota decisions for the proxy and the numbers for the admin: windows in APP_TZ, atomic
 * reservation in the database, exactly-once settlement, and the set of this process's
 * reservations in flight (renewed so they outlive slow streams, and only those).
 */
export class QuotaService {
  private readonly inFlight = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  /** Set by `close`: settlements failing from then on are not retried. */
  private closing = false;

  constructor(
    private readonly store: QuotaStore,
    readonly timeZone: string,
  ) {}

  windows(now = new Date()): CurrentWindows {
    return currentWindows(now, this.timeZone);
  }

  async admit(input: AdmitInput): Promise<AdmitResult> {
    const now = input.now ?? new Date();
    const windows = this.windows(now);
    const result = await this.store.reserve({
      keyId: input.key.id,
      limits: input.key.limits,
      windows,
      promptEstimate: input.promptEstimate,
      requestedMaxTokens: input.requestedMaxTokens,
      generates: input.generates,
      maxConcurrent: input.key.maxConcurrent,
      now,
      expiresAt: new Date(now.getTime() + RESERVATION_TTL_MS),
      ttlMs: RESERVATION_TTL_MS,
    });
    if (!result.admitted) {
      const window = windows[result.refusal.window];
      const resetsAt = formatLocal(window.end, this.timeZone);
      return {
        admitted: false,
        kind: result.refusal.kind,
        message: refusalMessage(result.refusal, window, resetsAt),
        // Held by requests in flight: worth retrying as soon as one finishes.
        retryAfterSeconds: result.refusal.heldByInFlight ? 1 : secondsUntil(window.end, now),
        retryable: result.refusal.heldByInFlight,
        window,
      };
    }
    this.inFlight.add(result.reservation.id);
    return {
      admitted: true,
      reservation: result.reservation,
      headers: rateLimitHeaders(input.key.limits, result.reservation, windows, now, input.anthropicHeaders),
    };
  }

  /**
   * Settles once. A database that cannot be reached (an outage while a stream ran) does not lose the
   * charge: the settlement is retried, every `SETTLE_RETRY_MS` at first and then less often, while the
   * reservation is still this process's (it stays in `inFlight`, so `maintain` keeps renewing it once
   * the database is back) — until it succeeds or `SETTLE_RETRY_FOR_MS` have passed; then it is left to
   * expire (released uncharged) and the error is thrown.
   */
  async settle(reservation: Reservation, settlement: Settlement): Promise<boolean> {
    const giveUpAt = Date.now() + SETTLE_RETRY_FOR_MS;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.store.settle(reservation, settlement);
        } catch (error) {
          if (Date.now() >= giveUpAt || this.closing) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.min(SETTLE_RETRY_MS * attempt, 10_000)).unref());
        }
      }
    } finally {
      this.inFlight.delete(reservation.id);
      if (this.inFlight.size === 0 && this.idleWaiters.length > 0) {
        for (const wake of this.idleWaiters.splice(0)) wake();
      }
    }
  }

  /** Why the quota store cannot write now (admissions are refused meanwhile); undefined while it can. */
  get writeFailure(): unknown {
    return this.store.writeFailure;
  }

  /** Reservations of this process not yet settled (requests in flight, settlements under way). */
  get unsettled(): number {
    return this.inFlight.size;
  }

  /**
   * Resolves true once every reservation this process made is settled, or false after `timeoutMs`
   * (the shutdown path waits on it before closing the database).
   */
  whenSettled(timeoutMs: number): Promise<boolean> {
    if (this.inFlight.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(wake);
    });
  }

  /** Writes what the store holds back (the shutdown calls it last, before closing the database). */
  close(): Promise<void> {
    this.closing = true;
    return this.store.close();
  }

  /**
   * Renews this process's reservations in flight and releases those of dead processes. `now` is this
   * process's clock; on PostgreSQL both go by the database's clock instead (see `QuotaStore`).
   */
  async maintain(now = new Date()): Promise<{ released: number }> {
    if (this.inFlight.size > 0) await this.store.extend([...this.inFlight], new Date(now.getTime() + RESERVATION_TTL_MS), RESERVATION_TTL_MS);
    return { released: await this.store.releaseExpired(now) };
  }

  async usage(limitsById: Map<number, QuotaLimits>, now = new Date()): Promise<Map<number, KeyUsage>> {
    const windows = this.windows(now);
    const counters = await this.store.counters(windows);
    const result = new Map<number, KeyUsage>();
    for (const [id, limits] of limitsById) result.set(id, this.describe(limits, counters.get(id), windows));
    return result;
  }

  async usageOf(keyId: number, limits: QuotaLimits, now = new Date()): Promise<KeyUsage> {
    const windows = this.windows(now);
    const counters = await this.store.counters(windows, keyId);
    return this.describe(limits, counters.get(keyId), windows);
  }

  private describe(limits: QuotaLimits, counters: KeyCounters | undefined, windows: CurrentWindows): KeyUsage {
    const window = (kind: 'day' | 'month'): WindowUsage => {
      const c = counters?.[kind];
      return {
        requests: c?.requests ?? 0,
        tokens: c?.tokens ?? 0,
        reserved_tokens: c?.reservedTokens ?? 0,
        request_limit: kind === 'day' ? limits.dailyRequests : limits.monthlyRequests,
        token_limit: kind === 'day' ? limits.dailyTokens : limits.monthlyTokens,
        resets_at: formatLocal(windows[kind].end, this.timeZone),
      };
    };
    return { day: window('day'), month: window('month') };
  }
}
