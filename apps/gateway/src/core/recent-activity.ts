/** Why the proxy refused or failed a request, as the admin's overview groups them. */
export type RefusalKind =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'bad_request'
  | 'quota_requests'
  | 'quota_tokens'
  | 'quota_concurrency'
  | 'overloaded'
  | 'upstream';

export const REFUSAL_KINDS: readonly RefusalKind[] = [
  'unauthorized',
  'forbidden',
  'not_found',
  'bad_request',
  'quota_requests',
  'quota_tokens',
  'quota_concurrency',
  'overloaded',
  'upstream',
];

interface Minute {
  /** Minutes since the epoch. */
  at: number;
  requests: number;
  refusals: Map<RefusalKind, number>;
}

const MINUTES = 60;

/**
 * The last hour of this process's proxy traffic, a minute at a time: requests answered and refusals
 * by kind, for the admin's overview. Recording is an array index and an add; memory is fixed (60
 * minutes). Per process, like /metrics: each replica counts what it answered.
 */
export class RecentActivity {
  private readonly minutes: Minute[] = Array.from({ length: MINUTES }, () => ({ at: -1, requests: 0, refusals: new Map() }));

  constructor(private readonly now: () => number = Date.now) {}

  request(): void {
    this.current().requests += 1;
  }

  refused(kind: RefusalKind): void {
    const minute = this.current();
    minute.refusals.set(kind, (minute.refusals.get(kind) ?? 0) + 1);
  }

  /** Requests per minute, oldest first, the current (partial) minute last; and refusals by kind over those 60 minutes. */
  lastHour(): { perMinute: { minute: string; requests: number }[]; refusals: Record<RefusalKind, number> } {
    const nowMinute = Math.floor(this.now() / 60_000);
    const perMinute: { minute: string; requests: number }[] = [];
    const refusals = Object.fromEntries(REFUSAL_KINDS.map((kind) => [kind, 0])) as Record<RefusalKind, number>;
    for (let at = nowMinute - MINUTES + 1; at <= nowMinute; at++) {
      const slot = this.minutes[at % MINUTES]!;
      const live = slot.at === at;
      perMinute.push({ minute: new Date(at * 60_000).toISOString(), requests: live ? slot.requests : 0 });
      if (live) for (const [kind, count] of slot.refusals) refusals[kind] += count;
    }
    return { perMinute, refusals };
  }

  private current(): Minute {
    const at = Math.floor(this.now() / 60_000);
    const slot = this.minutes[at % MINUTES]!;
    if (slot.at !== at) {
      slot.at = at;
      slot.requests = 0;
      slot.refusals.clear();
    }
    return slot;
  }
}

/** The refusal kind of a proxy answer's status, when the status alone tells it (quota and overload are told by their own hooks). */
export function refusalOfStatus(status: number): RefusalKind | undefined {
  if (status < 400) return undefined;
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429 || status === 503 || status === 529) return undefined; // quotaRefused / overloadedAnswered say which
  if (status < 500) return 'bad_request';
  return 'upstream';
}
