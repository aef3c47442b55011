import axios, { type AxiosInstance } from 'axios';
import { canonicalModelName } from '@llmproxy/dialects';
import { type TagEntry, toUpstreamError, UpstreamError } from '@llmproxy/ollama';
import type { BreakerOptions } from './breaker.js';
import { NoUpstreamError, type UpstreamSource } from './scheduler.js';
import { type UpstreamConfig, UpstreamState } from './upstream.js';

/** How the polls introduce themselves to Ollama (and to the scripted Ollama of the tests). */
export const POLL_USER_AGENT = 'llmproxy-upstream-poll';

export interface PoolOptions {
  /** How often each upstream's /api/tags and /api/ps are read (and the list from the database). */
  pollMs: number;
  breaker?: BreakerOptions;
  /** Timeout of one poll request. */
  pollTimeoutMs?: number;
}

export interface PoolEvents {
  /** Something changed that may let waiting requests go (called after each refresh). */
  changed?(): void;
  /** An upstream's health changed (up ↔ down), for alerts and logs. */
  health?(upstream: UpstreamState, up: boolean): void;
}

/**
 * The Ollama servers this process sends to: the list from the database (every replica reads the same
 * list), and what each one's last poll saw — its models (/api/tags), its loaded models (/api/ps) —
 * with a circuit breaker each. Polled every `pollMs`; a request that finds no server answering makes
 * a poll happen at once (at most one a second), so a server that comes back is used at once.
 * Control plane: axios, as the rest of the catalogue.
 */
export class UpstreamPool implements UpstreamSource {
  private states: UpstreamState[] = [];
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  /** Derived from `states` after each refresh (polls change them only then), so requests read them without work. */
  private ranked: UpstreamState[] = [];
  private answering: UpstreamState[] = [];
  private merged: TagEntry[] = [];
  private next: Promise<void> | undefined;
  private lastRefreshAt = 0;
  private readonly http: AxiosInstance;

  constructor(
    private readonly loadConfigs: () => Promise<UpstreamConfig[]>,
    private readonly options: PoolOptions,
    private readonly events: PoolEvents = {},
    http?: AxiosInstance,
  ) {
    this.http = http ?? axios.create({ timeout: options.pollTimeoutMs ?? 3_000, proxy: false, maxRedirects: 0, headers: { 'user-agent': POLL_USER_AGENT } });
  }

  /** Reads the list and polls every upstream once, then every `pollMs`. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.options.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  upstreams(): readonly UpstreamState[] {
    return this.states;
  }

  /** The enabled upstreams, highest priority first (as of the last refresh). */
  enabled(): readonly UpstreamState[] {
    return this.ranked;
  }

  find(id: number): UpstreamState | undefined {
    return this.states.find((u) => u.id === id);
  }

  /**
   * One refresh at a time. A caller that arrives while one runs gets the next one, started once the
   * running one ends: a refresh that read the list before the caller's change would not show it.
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.next ??= this.refreshing.then(
        () => undefined,
        () => undefined,
      ).then(() => {
        this.next = undefined;
        return this.refresh();
      });
      return this.next;
    }
    this.lastRefreshAt = Date.now();
    this.refreshing = this.doRefresh().finally(() => {
      this.refreshing = undefined;
      this.events.changed?.();
    });
    return this.refreshing;
  }

  /**
   * The models of every enabled upstream that answered its last poll, merged by name (the first in
   * priority order wins), for /api/tags, /v1/models and model resolution. When none answered, polls
   * again first (at most once a second); when still none did, throws what the last poll met (one
   * server: its own error, as the single-server gateway always said).
   */
  async models(): Promise<TagEntry[]> {
    if (this.answering.length === 0) {
      if (Date.now() - this.lastRefreshAt >= 1_000 || this.refreshing) await this.refresh();
      if (this.answering.length === 0) throw this.noneAnswering();
    }
    return this.merged;
  }

  /** How many upstreams are enabled (routing has a choice only when more than one is). */
  get enabledCount(): number {
    return this.ranked.length;
  }

  /** An enabled upstream that lists the model (answering and by priority first), else the first answering one. */
  withModel(model: string): UpstreamState | undefined {
    const name = canonicalModelName(model);
    return this.ranked.find((u) => u.lastPollOk && u.hasModel(name)) ?? this.ranked.find((u) => u.hasModel(name)) ?? this.firstAnswering();
  }

  /** The first enabled upstream (by priority) whose last poll answered, else the first enabled one. */
  firstAnswering(): UpstreamState | undefined {
    return this.answering[0] ?? this.ranked[0];
  }

  /** The error to give when no upstream answers. */
  noneAnswering(): Error {
    const enabled = this.enabled();
    if (enabled.length === 0) return new NoUpstreamError();
    if (enabled.length === 1 && enabled[0]!.lastPollError) return enabled[0]!.lastPollError;
    return new UpstreamError('unreachable', `none of the ${enabled.length} Ollama servers is reachable`);
  }

  /** A request's outcome on an upstream, for its breaker. */
  succeeded(upstream: UpstreamState): void {
    const wasDown = upstream.breaker.state(Date.now()) !== 'closed';
    upstream.breaker.success();
    if (wasDown) this.events.health?.(upstream, true);
  }

  failed(upstream: UpstreamState, message: string, now = Date.now()): void {
    const wasClosed = upstream.breaker.state(now) === 'closed';
    upstream.breaker.failure(now);
    upstream.incident(message, now);
    if (wasClosed && upstream.breaker.state(now) === 'open') this.events.health?.(upstream, false);
    this.events.changed?.();
  }

  private async doRefresh(): Promise<void> {
    // The database out of reach: the list stays as last read, and the servers are still polled.
    const configs = await this.loadConfigs().catch(() => this.states.map((u) => u.config));
    const previous = new Map(this.states.map((u) => [u.id, u]));
    this.states = configs.map((config) => {
      const known = previous.get(config.id);
      if (!known) return new UpstreamState(config, this.options.breaker);
      if (known.config.url !== config.url) {
        // Another server behind the same name: nothing of the old one's catalogue holds.
        known.models = undefined;
        known.tags = [];
        known.loaded = new Set();
        known.lastPollOk = false;
      }
      known.config = config;
      return known;
    });
    await Promise.all(this.states.filter((u) => u.config.enabled).map((u) => this.poll(u)));
    this.ranked = byPriority(this.states.filter((u) => u.config.enabled));
    this.answering = this.ranked.filter((u) => u.lastPollOk);
    this.merged = mergeTags(this.answering.map((u) => u.tags));
  }

  private async poll(upstream: UpstreamState): Promise<void> {
    const url = upstream.url;
    const now = Date.now();
    try {
      const [tags, ps] = await Promise.all([
        this.http.get<{ models?: TagEntry[] }>(`${url}/api/tags`),
        this.http.get<{ models?: { name?: string; model?: string }[] }>(`${url}/api/ps`).catch(() => undefined),
      ]);
      if (upstream.url !== url) return; // its URL changed meanwhile
      upstream.tags = tags.data?.models ?? [];
      upstream.models = new Set(upstream.tags.map((t) => canonicalModelName(t.name || t.model || '')));
      upstream.loaded = new Set((ps?.data?.models ?? []).map((m) => canonicalModelName(m.name || m.model || '')));
      upstream.lastPollOk = true;
      upstream.lastPollError = undefined;
      upstream.lastPollAt = now;
      // Any success resets the count of consecutive failures (closed or not): failed polls apart must not add up.
      this.succeeded(upstream);
    } catch (error) {
      if (upstream.url !== url) return;
      const failure = toUpstreamError(error, url);
      upstream.lastPollOk = false;
      upstream.lastPollError = failure;
      upstream.lastPollAt = now;
      this.failed(upstream, failure.message, now);
    }
  }
}

/** Several servers' model lists as one, by name; the first list that has a name wins. */
export function mergeTags(lists: readonly (readonly TagEntry[])[]): TagEntry[] {
  const seen = new Set<string>();
  const merged: TagEntry[] = [];
  for (const tags of lists) {
    for (const tag of tags) {
      const name = tag.name || tag.model || '';
      if (seen.has(name)) continue;
      seen.add(name);
      merged.push(tag);
    }
  }
  return merged;
}

function byPriority(upstreams: UpstreamState[]): UpstreamState[] {
  return [...upstreams].sort((a, b) => b.config.priority - a.config.priority || a.id - b.id);
}
