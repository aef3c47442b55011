import type { KeyUsage } from '@llmproxy/api-types';
import type { QuotaLimits } from '@llmproxy/keys';
import { readTimestamp, type SqlClient } from '@llmproxy/persistence';
import { redactUrl } from '@llmproxy/audit';
import type { QuotaService } from '@llmproxy/quota';
import type { UpstreamState } from '@llmproxy/upstreams';
import type winston from 'winston';
import type { AlertService } from './alert-service.js';

/** A key expiring within this is announced (once per key and expiry). */
export const EXPIRY_NOTICE_MS = 7 * 86_400_000;
const THRESHOLDS = [80, 100] as const;

const LIMITS = [
  { name: 'daily_requests', window: 'day', counter: 'requests', limit: 'request_limit', label: 'daily request limit' },
  { name: 'daily_tokens', window: 'day', counter: 'tokens', limit: 'token_limit', label: 'daily token limit' },
  { name: 'monthly_requests', window: 'month', counter: 'requests', limit: 'request_limit', label: 'monthly request limit' },
  { name: 'monthly_tokens', window: 'month', counter: 'tokens', limit: 'token_limit', label: 'monthly token limit' },
] as const;

const KEYS = `SELECT id, name, expires_at, daily_token_limit, monthly_token_limit, daily_request_limit, monthly_request_limit
  FROM api_keys WHERE is_active = ?`;

/**
 * What raises alerts besides the upstream pool's health events: every `checkMs` (ALERT_CHECK_S, 30 s
 * by default) one read of the active keys and one of the quota counters (the same ones the admin's
 * usage view reads; on SQLite they are in memory) — so the proxy's requests pay nothing for alerts —
 * and a probe of the database. A key's 80 % and 100 % of each limit go once per key, limit, window
 * and threshold (`alert_sent`); an expiry within 7 days once per key and expiry.
 *
 * The database: this process's own view (each replica tells of its own connection), one alert when
 * it starts failing and one when it answers again, sent without the database (see AlertService).
 */
export class AlertWatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private databaseDown = false;
  private day: string | undefined;

  constructor(
    private readonly alerts: AlertService,
    private readonly sql: SqlClient,
    private readonly quota: QuotaService,
    private readonly logger: winston.Logger,
    private readonly checkMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.checkMs);
    this.timer.unref();
    void this.check();
  }

  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.running ?? Promise.resolve();
  }

  /** The pool's breaker/poll transitions: one alert per transition over every replica (`alert_states`). */
  upstreamHealth(upstream: UpstreamState, up: boolean): void {
    const details = { upstream: upstream.name, upstream_id: upstream.id, url: redactUrl(upstream.url), error: up ? null : (upstream.lastPollError?.message ?? null) };
    const summary = up ? `Ollama server "${upstream.name}" answers again and is back in the rotation.` : `Ollama server "${upstream.name}" is down: out of the rotation (circuit breaker open).`;
    this.alerts.emit(up ? 'upstream.up' : 'upstream.down', summary, details, { transition: { subject: `upstream:${upstream.id}`, state: up ? 'up' : 'down', initial: 'up' } });
  }

  check(now = new Date()): Promise<void> {
    this.running ??= this.run(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(now: Date): Promise<void> {
    if (!(await this.databaseAnswers())) return;
    try {
      const rows = await this.sql.all(KEYS, [true]);
      const limits = new Map<number, QuotaLimits>();
      for (const row of rows) {
        const n = (value: unknown) => (value == null ? null : Number(value));
        limits.set(Number(row.id), { dailyTokens: n(row.daily_token_limit), monthlyTokens: n(row.monthly_token_limit), dailyRequests: n(row.daily_request_limit), monthlyRequests: n(row.monthly_request_limit) });
      }
      const usage = await this.quota.usage(limits, now);
      const windows = this.quota.windows(now);
      if (this.day !== undefined && this.day !== windows.day.key) await this.alerts.newDay(now);
      this.day = windows.day.key;
      for (const row of rows) {
        const id = Number(row.id);
        const name = String(row.name);
        const used = usage.get(id);
        if (used) this.quotaAlerts(id, name, used, { day: windows.day.key, month: windows.month.key });
        const expiresAt = readTimestamp(row.expires_at);
        if (expiresAt && expiresAt.getTime() > now.getTime() && expiresAt.getTime() - now.getTime() <= EXPIRY_NOTICE_MS) {
          const days = Math.max(1, Math.ceil((expiresAt.getTime() - now.getTime()) / 86_400_000));
          this.alerts.emit('key.expiring', `Key "${name}" (id ${id}) expires at ${expiresAt.toISOString()} (within ${days} day${days === 1 ? '' : 's'}).`, { key_id: id, key_name: name, expires_at: expiresAt.toISOString() }, { once: `expiry:${id}:${expiresAt.toISOString()}` });
        }
      }
    } catch (error) {
      this.logger.warn(`alert check failed: ${String(error)}`, { context: 'alerts' });
    }
  }

  private quotaAlerts(id: number, name: string, usage: KeyUsage, periods: { day: string; month: string }): void {
    for (const limit of LIMITS) {
      const window = usage[limit.window];
      const max = window[limit.limit];
      if (max == null || max <= 0) continue;
      const used = window[limit.counter];
      for (const threshold of THRESHOLDS) {
        if (used * 100 < max * threshold) continue;
        const period = periods[limit.window];
        const summary =
          threshold === 100
            ? `Key "${name}" (id ${id}) reached its ${limit.label}: ${used} of ${max}; refused until ${window.resets_at}.`
            : `Key "${name}" (id ${id}) used ${threshold} % of its ${limit.label}: ${used} of ${max} (resets ${window.resets_at}).`;
        this.alerts.emit(
          threshold === 100 ? 'key.quota_100' : 'key.quota_80',
          summary,
          { key_id: id, key_name: name, limit: limit.name, period, threshold, used, limit_value: max, resets_at: window.resets_at },
          { once: `quota:${id}:${limit.name}:${period}:${threshold}` },
        );
      }
    }
  }

  /** Probes the database (and the quota store's writes); alerts on a change. */
  private async databaseAnswers(): Promise<boolean> {
    let failure: unknown = this.quota.writeFailure;
    if (failure === undefined) {
      try {
        await this.sql.one('SELECT 1 AS ok');
      } catch (error) {
        failure = error;
      }
    }
    if (failure !== undefined && !this.databaseDown) {
      this.databaseDown = true;
      const error = (failure instanceof Error ? failure.message : String(failure)).slice(0, 200);
      this.alerts.emit('database.error', `The gateway's database fails: ${error}`, { error }, { withoutDatabase: true });
    } else if (failure === undefined && this.databaseDown) {
      this.databaseDown = false;
      this.alerts.emit('database.recovered', "The gateway's database answers again.", {}, { withoutDatabase: true });
    }
    return failure === undefined;
  }
}
