import type { AlertEvent, AlertFormat } from '@llmproxy/api-types';
import { readTimestamp, type SqlClient } from '@llmproxy/persistence';
import type winston from 'winston';
import { type AlertDetails, type AlertMessage, formatBody, signature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './alert-format.js';

export interface AlertOptions {
  /** The first retry's wait; each further one waits twice as long. */
  retryBaseMs: number;
  /** Attempts per delivery, the first included. */
  maxAttempts?: number;
  /** Timeout of one attempt. */
  timeoutMs?: number;
  /** How often the queue is swept for due retries besides the wake-ups this process scheduled. */
  sweepMs: number;
}

export interface WebhookTarget {
  id: number;
  url: string;
  secret: string | null;
  format: AlertFormat;
  events: AlertEvent[];
  enabled: boolean;
}

/** What an emitted alert needs before it goes out. */
export interface EmitOptions {
  /** Sent once ever under this key, over every replica and restart (a row of `alert_sent`). */
  once?: string;
  /** Sent only when this replica moves the subject's recorded state to `state` (`alert_states`); `initial`: the state of a subject never seen. */
  transition?: { subject: string; state: string; initial: string };
  /** Does not need the database: delivered from memory, recorded once the database answers (database errors). */
  withoutDatabase?: boolean;
}

const MAX_ATTEMPTS = 5;
const TIMEOUT_MS = 10_000;
/** A claimed attempt's lease: another replica may take a delivery over once it passed (its process died mid-attempt). */
const CLAIM_LEASE_MS = TIMEOUT_MS + 20_000;
const SWEEP_BATCH = 20;
/** Alerts held while the database cannot take them (oldest dropped beyond it). */
const MAX_HELD = 200;
const ERROR_LENGTH = 300;

interface Held {
  message: AlertMessage;
  options: EmitOptions;
}

/** A delivery made from memory while the database was out, waiting to be written to `alert_deliveries`. */
interface Unrecorded {
  webhookId: number;
  message: AlertMessage;
  status: 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: Date;
}

/**
 * Alerts to the admins' webhooks. `emit` only queues (no request ever waits on an alert); a worker
 * turns each event into one delivery per webhook that wants it (rows of `alert_deliveries`), and
 * sends them: signed, one attempt at a time with a timeout, retried with exponential backoff.
 * Replicas share the queue: an attempt is claimed by one conditional UPDATE, so one replica makes
 * it. Alerts of a database failure do not wait for the database: they go from memory and are
 * written to `alert_deliveries` once it answers again.
 */
export class AlertService {
  private readonly held: Held[] = [];
  /** `once` keys this process knows are sent: no database round trip for them again. */
  private readonly sentHere = new Set<string>();
  private hooks: WebhookTarget[] = [];
  private readonly unrecorded: Unrecorded[] = [];
  private draining: Promise<void> | undefined;
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private interval: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly sql: SqlClient,
    private readonly logger: winston.Logger,
    private readonly options: AlertOptions,
  ) {
    this.maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
    this.timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  }

  start(): void {
    this.interval = setInterval(() => this.kick(), this.options.sweepMs);
    this.interval.unref();
    this.kick();
  }

  /** Stops the timers and waits (briefly) for attempts under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.interval);
    clearTimeout(this.wakeTimer);
    await Promise.race([Promise.allSettled([...this.inFlight, this.draining, this.sweeping]), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
  }

  /** Queues an alert; returns at once. */
  emit(event: AlertEvent, summary: string, details: AlertDetails, options: EmitOptions = {}): void {
    if (this.stopped) return;
    if (options.once && this.sentHere.has(options.once)) return;
    const message: AlertMessage = { event, at: new Date().toISOString(), summary, details };
    if (options.withoutDatabase) {
      for (const hook of this.hooks.filter((h) => h.enabled && h.events.includes(event))) this.track(this.deliverFromMemory(hook, message));
      return;
    }
    this.held.push({ message, options });
    if (this.held.length > MAX_HELD) this.held.splice(0, this.held.length - MAX_HELD);
    this.drain();
  }

  /** The webhooks changed (the admin API): read them again. */
  webhooksChanged(): void {
    this.kick();
  }

  /** The "send test" action: one delivery of a `test` event to this webhook; its id. */
  async sendTest(webhookId: number): Promise<number> {
    const message: AlertMessage = { event: 'test', at: new Date().toISOString(), summary: 'A test alert from llmproxy: this webhook is reachable.', details: {} };
    const id = await this.insertDelivery(webhookId, message);
    this.kick();
    return id;
  }

  /**
   * A new day: forgets which `once` keys this process sent (yesterday's windows are over), and prunes
   * `alert_sent` and finished deliveries older than `keepDays`.
   */
  async newDay(now: Date, keepDays = 62): Promise<void> {
    this.sentHere.clear();
    const before = this.sql.timestamp(new Date(now.getTime() - keepDays * 86_400_000));
    await this.sql.run('DELETE FROM alert_sent WHERE created_at < ?', [before]);
    await this.sql.run(`DELETE FROM alert_deliveries WHERE status <> 'pending' AND created_at < ?`, [before]);
  }

  /** Sweeps now (and reads the webhooks again); cheap to call often. */
  kick(): void {
    if (this.stopped) return;
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = this.sweep()
      .catch((error: unknown) => {
        this.logger.warn(`alert deliveries: ${describe(error)}`, { context: 'alerts' });
      })
      .finally(() => {
        this.sweeping = undefined;
        if (this.sweepAgain) {
          this.sweepAgain = false;
          this.kick();
        }
      });
  }

  private drain(): void {
    if (this.draining || this.stopped) return;
    this.draining = this.drainHeld().finally(() => {
      this.draining = undefined;
    });
  }

  private async drainHeld(): Promise<void> {
    let queued = false;
    while (this.held.length > 0) {
      const item = this.held[0]!;
      try {
        if (await this.claimed(item.options)) {
          const hooks = (await this.loadHooks()).filter((hook) => hook.enabled && hook.events.includes(item.message.event));
          for (const hook of hooks) await this.insertDelivery(hook.id, item.message);
          queued ||= hooks.length > 0;
        }
        this.held.shift();
      } catch (error) {
        // The database is out: the alert waits for the next sweep (the periodic one retries it).
        this.logger.warn(`alert ${item.message.event} held until the database answers: ${describe(error)}`, { context: 'alerts' });
        break;
      }
    }
    if (queued) this.kick();
  }

  /** Whether this process is the one to send it (once keys and transitions). */
  private async claimed(options: EmitOptions): Promise<boolean> {
    const now = this.sql.timestamp(new Date());
    if (options.once) {
      if (this.sentHere.has(options.once)) return false;
      const inserted = await this.sql.run('INSERT INTO alert_sent (dedupe_key, created_at) VALUES (?, ?) ON CONFLICT (dedupe_key) DO NOTHING', [options.once, now]);
      this.sentHere.add(options.once);
      if (inserted === 0) return false;
    }
    if (options.transition) {
      const { subject, state, initial } = options.transition;
      await this.sql.run('INSERT INTO alert_states (subject, state, changed_at) VALUES (?, ?, ?) ON CONFLICT (subject) DO NOTHING', [subject, initial, now]);
      const moved = await this.sql.run('UPDATE alert_states SET state = ?, changed_at = ? WHERE subject = ? AND state <> ?', [state, now, subject, state]);
      if (moved === 0) return false;
    }
    return true;
  }

  private async loadHooks(): Promise<WebhookTarget[]> {
    const rows = await this.sql.all('SELECT id, url, secret, format, events, enabled FROM alert_webhooks ORDER BY id');
    this.hooks = rows.map((row) => ({
      id: Number(row.id),
      url: String(row.url),
      secret: row.secret == null || row.secret === '' ? null : String(row.secret),
      format: String(row.format) as AlertFormat,
      events: parseEvents(row.events),
      enabled: row.enabled === true || row.enabled === 1,
    }));
    return this.hooks;
  }

  private async insertDelivery(webhookId: number, message: AlertMessage, record?: Unrecorded): Promise<number> {
    const now = new Date();
    const created = this.sql.timestamp(record?.createdAt ?? now);
    const params = [
      webhookId,
      message.event,
      JSON.stringify(message),
      record?.status ?? 'pending',
      record?.attempts ?? 0,
      record ? null : this.sql.timestamp(now),
      record?.lastError ?? null,
      record?.lastStatus ?? null,
      created,
      this.sql.timestamp(now),
    ];
    const row = await this.sql.one<{ id: number }>(
      `INSERT INTO alert_deliveries (webhook_id, event, payload, status, attempts, next_attempt_at, last_error, last_status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      params,
    );
    return Number(row!.id);
  }

  private async sweep(): Promise<void> {
    await this.loadHooks();
    await this.recordUnrecorded();
    if (this.held.length > 0) this.drain();
    const now = new Date();
    const due = await this.sql.all(
      `SELECT d.id, d.webhook_id, d.payload, d.attempts, d.next_attempt_at FROM alert_deliveries d
       WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ${SWEEP_BATCH}`,
      [this.sql.timestamp(now)],
    );
    await Promise.all(due.map((row) => this.track(this.attempt(row, now))));
    if (due.length === SWEEP_BATCH) this.sweepAgain = true;
    const next = await this.sql.one<{ next: unknown }>(`SELECT MIN(next_attempt_at) AS next FROM alert_deliveries WHERE status = 'pending'`);
    const at = readTimestamp(next?.next);
    if (at) this.wake(at.getTime());
  }

  /** Sweeps again at `at` (the earliest due retry this process knows of). */
  private wake(at: number): void {
    if (this.stopped || at >= this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = Infinity;
        this.kick();
      },
      Math.max(0, at - Date.now()) + 5,
    );
    this.wakeTimer.unref();
  }

  /** One attempt of one delivery, claimed first so that one replica makes it. */
  private async attempt(row: Record<string, unknown>, now: Date): Promise<void> {
    const id = Number(row.id);
    const claimed = await this.sql.run(`UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'pending' AND next_attempt_at = ?`, [
      this.sql.timestamp(new Date(now.getTime() + CLAIM_LEASE_MS)),
      this.sql.timestamp(now),
      id,
      this.sql.timestamp(readTimestamp(row.next_attempt_at)!),
    ]);
    if (claimed === 0) return;
    const attempts = Number(row.attempts) + 1;
    const hook = this.hooks.find((h) => h.id === Number(row.webhook_id));
    const message = JSON.parse(String(row.payload)) as AlertMessage;
    // A webhook disabled meanwhile gets no more alerts, but the "send test" action works on it.
    const usable = hook && (hook.enabled || message.event === 'test');
    const outcome = usable ? await this.send(hook, message, id) : { ok: false as const, error: hook ? 'the webhook is disabled' : 'the webhook is gone', status: null };
    const finished = new Date();
    if (outcome.ok) {
      await this.sql.run(`UPDATE alert_deliveries SET status = 'delivered', next_attempt_at = NULL, last_status = ?, updated_at = ? WHERE id = ?`, [outcome.status, this.sql.timestamp(finished), id]);
      return;
    }
    const last = attempts >= this.maxAttempts || !usable;
    const nextAt = new Date(finished.getTime() + this.backoff(attempts));
    await this.sql.run(`UPDATE alert_deliveries SET status = ?, next_attempt_at = ?, last_error = ?, last_status = ?, updated_at = ? WHERE id = ?`, [
      last ? 'failed' : 'pending',
      last ? null : this.sql.timestamp(nextAt),
      outcome.error.slice(0, ERROR_LENGTH),
      outcome.status,
      this.sql.timestamp(finished),
      id,
    ]);
    if (last) this.logger.warn(`alert delivery ${id} (${message.event}) to webhook ${row.webhook_id} failed after ${attempts} attempt(s): ${outcome.error}`, { context: 'alerts' });
    else this.wake(nextAt.getTime());
  }

  /** The wait after `attempts` failed attempts: base, 2 × base, 4 × base, … */
  private backoff(attempts: number): number {
    return this.options.retryBaseMs * 2 ** (attempts - 1);
  }

  /** A database alert: sent and retried from memory; written to `alert_deliveries` once the database answers. */
  private async deliverFromMemory(hook: WebhookTarget, message: AlertMessage): Promise<void> {
    const record: Unrecorded = { webhookId: hook.id, message, status: 'failed', attempts: 0, lastError: null, lastStatus: null, createdAt: new Date() };
    for (;;) {
      record.attempts += 1;
      const outcome = await this.send(hook, message, null);
      record.lastStatus = outcome.status;
      if (outcome.ok) {
        record.status = 'delivered';
        break;
      }
      record.lastError = outcome.error.slice(0, ERROR_LENGTH);
      if (record.attempts >= this.maxAttempts || this.stopped) break;
      await new Promise((resolve) => setTimeout(resolve, this.backoff(record.attempts)).unref());
    }
    this.unrecorded.push(record);
    this.kick();
  }

  private async recordUnrecorded(): Promise<void> {
    while (this.unrecorded.length > 0) {
      const record = this.unrecorded[0]!;
      // The webhook may be gone meanwhile (deleted while the database was out): nothing to record it under.
      if (this.hooks.some((h) => h.id === record.webhookId)) await this.insertDelivery(record.webhookId, record.message, record);
      this.unrecorded.shift();
    }
  }

  private async send(hook: WebhookTarget, message: AlertMessage, deliveryId: number | null): Promise<{ ok: true; status: number } | { ok: false; error: string; status: number | null }> {
    const body = formatBody(hook.format, message);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'llmproxy-alerts',
      'x-llmproxy-event': message.event,
      [TIMESTAMP_HEADER]: timestamp,
    };
    if (deliveryId !== null) headers['x-llmproxy-delivery'] = String(deliveryId);
    if (hook.secret) headers[SIGNATURE_HEADER] = signature(hook.secret, timestamp, body);
    try {
      const response = await fetch(hook.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return { ok: false, error: `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, status: response.status };
    } catch (error) {
      return { ok: false, error: describe(error), status: null };
    }
  }

  private track<T>(promise: Promise<T>): Promise<T | undefined> {
    const tracked = promise.catch((error: unknown) => {
      this.logger.warn(`alert delivery: ${describe(error)}`, { context: 'alerts' });
      return undefined;
    });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    return tracked;
  }
}

export function parseEvents(value: unknown): AlertEvent[] {
  try {
    const parsed = JSON.parse(String(value)) as unknown;
    return Array.isArray(parsed) ? (parsed.filter((e) => typeof e === 'string') as AlertEvent[]) : [];
  } catch {
    return [];
  }
}

/** An error in a few words: the network error's code when there is one, never a body. Duck-typed: fetch's errors may come from another realm. */
function describe(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const { name, message, cause } = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (name === 'TimeoutError') return 'timed out';
    if (cause?.code) return `${message}: ${cause.code}`;
    if (cause?.message) return `${message}: ${cause.message}`;
    return message || name || 'error';
  }
  return String(error);
}
