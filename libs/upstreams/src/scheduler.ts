import { UpstreamError } from '@llmproxy/ollama';
import type { UpstreamState } from './upstream.js';

/** Why a request could not be given a slot in time: the dialects answer "overloaded" with Retry-After. */
export class OverloadedError extends Error {
  constructor(
    readonly reason: 'queue_full' | 'queue_timeout',
    readonly retryAfterSeconds: number,
  ) {
    super(
      reason === 'queue_full'
        ? 'the Ollama servers are busy and the gateway queue is full; try again shortly'
        : 'the Ollama servers stayed busy for as long as the gateway queue waits; try again shortly',
    );
    this.name = 'OverloadedError';
  }
}

/** No enabled upstream exists (or none is left to fail over to): the client gets 502 as for an unreachable Ollama. */
export class NoUpstreamError extends UpstreamError {
  constructor(message = 'no Ollama server is configured and enabled on this gateway') {
    super('unreachable', message);
    this.name = 'NoUpstreamError';
  }
}

export interface SlotRequest {
  /** Whose request: the fair queue takes turns between keys. */
  keyId: number;
  /** The key's share of turns (default 1): a key of weight 2 gets two turns per round. */
  weight?: number;
  /** Canonical model name; null when the request names none (it may go anywhere). */
  model: string | null;
  /** A conversation's identity (see affinity.ts): its requests go back to the same upstream. */
  affinity?: string;
  signal?: AbortSignal;
  /** Upstreams not to use (the one that just failed, on a failover). */
  exclude?: ReadonlySet<number>;
  /** A failover's second try: served before every waiting request. */
  urgent?: boolean;
}

/** A slot on one upstream, held until released. */
export interface Lease {
  readonly upstream: UpstreamState;
  /** Milliseconds spent waiting in the gateway's queue. */
  readonly waitedMs: number;
  /** Frees the slot (once; later calls do nothing). */
  release(): void;
}

export interface SchedulerOptions {
  /** Requests that may wait at once in this process (beyond that: overloaded at once). */
  queueMax: number;
  /** How long a request may wait for a slot. */
  queueTimeoutMs: number;
  /** Conversations remembered for affinity (least recently used forgotten first). */
  affinityEntries?: number;
  /**
   * How long a conversation's request waits for its own upstream when that one is full and another
   * has a free slot (default 3 s): a warm prompt cache is worth a short wait, a cold prefill
   * elsewhere beats a long one.
   */
  affinityWaitMs?: number;
  now?: () => number;
}

export interface SchedulerEvents {
  waited?(upstream: UpstreamState, seconds: number): void;
  overloaded?(reason: OverloadedError['reason']): void;
}

interface Ticket {
  request: SlotRequest;
  enqueuedAt: number;
  resolve(lease: Lease): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
  /** The upstream its conversation waits for, counted in `pinned` while it waits. */
  pinnedTo?: number;
}

/** Where the scheduler sees the upstreams (the UpstreamPool). */
export interface UpstreamSource {
  upstreams(): readonly UpstreamState[];
}

/**
 * Slots, the fair queue and routing, for one process.
 *
 * Each upstream takes at most `maxParallel` requests from this process at once. A request that finds
 * no free slot on an upstream that can serve it waits here, in a queue per key; when a slot frees,
 * the keys take turns (deficit round robin with the key's weight), so a key with fifty waiting
 * requests cannot hold back a key with one. Waiting is bounded in number (`queueMax`) and in time
 * (`queueTimeoutMs`); beyond either the request gets OverloadedError. A failover's second try jumps
 * the queue.
 *
 * Routing (`choose`): the upstreams that are enabled and list the model (all enabled ones when none
 * lists it: Ollama then answers its own "not found"), those whose breaker lets requests through
 * (all of them when none does: the request is the probe); among those with a free slot: the
 * conversation's previous upstream for this model (affinity), else one with the model already
 * loaded, then the most free slots, then the highest priority. Affinity yields when its upstream is
 * down, when the model is no longer loaded there but is elsewhere (its cache is gone), and when it
 * is full while another has a free slot and either as many requests already wait for it as it has
 * slots or this one has waited `affinityWaitMs`.
 *
 * Reserved slots: an upstream's last `reservedSlots` free slots go only to keys with nothing in
 * flight there, so a key that holds every other slot cannot make a newcomer wait for an answer to end.
 */
export class Scheduler {
  private readonly queues = new Map<number, Ticket[]>();
  /** Keys with waiting requests, in turn order; `turn` is the index of the key whose turn it is. */
  private ring: number[] = [];
  private turn = 0;
  private readonly credits = new Map<number, number>();
  /** A key that started waiting took the turn ahead of the key whose turn it was, which has not been served since. */
  private jumpedBy: number | undefined;
  private readonly urgent: Ticket[] = [];
  private waitingCount = 0;
  private readonly affinity = new Map<string, number>();
  private readonly affinityEntries: number;
  private readonly affinityWaitMs: number;
  /** Waiting requests per upstream their conversation waits for. */
  private readonly pinned = new Map<number, number>();
  private readonly now: () => number;
  private dispatching = false;

  constructor(
    private readonly source: UpstreamSource,
    private readonly options: SchedulerOptions,
    private readonly events: SchedulerEvents = {},
  ) {
    this.affinityEntries = options.affinityEntries ?? 10_000;
    this.affinityWaitMs = options.affinityWaitMs ?? 3_000;
    this.now = options.now ?? Date.now;
  }

  /** Requests waiting for a slot in this process. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Waiting requests per model-less view: how many wait for any upstream that could serve them. */
  waitingFor(upstream: UpstreamState): number {
    let count = 0;
    for (const ticket of this.allTickets()) if (this.candidates(ticket.request).includes(upstream)) count += 1;
    return count;
  }

  acquire(request: SlotRequest): Promise<Lease> {
    if (request.signal?.aborted) return Promise.reject(abortError());
    const enqueuedAt = this.now();
    if (this.candidates(request).length === 0) return Promise.reject(new NoUpstreamError());
    // Nobody waits ahead of it (or it is a failover): take a free slot at once.
    if (request.urgent || this.waitingCount === 0) {
      const upstream = this.choose(request);
      if (upstream) return Promise.resolve(this.grant(request, upstream, enqueuedAt));
    }
    if (this.waitingCount >= this.options.queueMax) {
      // Full, but those waiting may all wait for other upstreams: once they had their chance at the
      // free slots, a slot still free for this request is its own, no need to queue.
      this.dispatch();
      const upstream = this.choose(request);
      if (upstream) return Promise.resolve(this.grant(request, upstream, enqueuedAt));
      // The bound is shared, the fairness per key: a key waiting with fewer requests than the longest
      // queue takes that key's newest place, so one key filling the queue cannot lock the others out.
      const evicted = request.urgent ? undefined : this.evictFromLongest(request.keyId);
      if (!evicted) {
        this.events.overloaded?.('queue_full');
        return Promise.reject(new OverloadedError('queue_full', 1));
      }
      this.events.overloaded?.('queue_full');
      evicted.reject(new OverloadedError('queue_full', 1));
    }
    return new Promise<Lease>((resolve, reject) => {
      const ticket: Ticket = { request, enqueuedAt, resolve, reject };
      ticket.timer = setTimeout(() => {
        if (!this.remove(ticket)) return;
        this.events.overloaded?.('queue_timeout');
        reject(new OverloadedError('queue_timeout', Math.max(1, Math.ceil(this.options.queueTimeoutMs / 10_000))));
      }, this.options.queueTimeoutMs);
      ticket.timer.unref?.();
      if (request.signal) {
        ticket.onAbort = () => {
          if (this.remove(ticket)) reject(abortError());
        };
        request.signal.addEventListener('abort', ticket.onAbort, { once: true });
      }
      this.enqueue(ticket);
      // A slot may be free for this request though others wait (they wait for other models).
      this.dispatch();
      if (ticket.pinnedTo !== undefined) {
        // Waiting for its conversation's upstream while another may be free: look again once the
        // affinity wait is over, whether or not a slot frees meanwhile.
        setTimeout(() => this.dispatch(), this.affinityWaitMs + 1).unref?.();
      }
    });
  }

  /**
   * Gives free slots to waiting requests, fairly across keys. Called when a slot frees and when the
   * upstreams change (added, enabled, a breaker half open, a new catalogue).
   */
  dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let i = 0; i < this.urgent.length; ) {
        const ticket = this.urgent[i]!;
        const upstream = this.route(ticket.request, ticket);
        if (!upstream) {
          i += 1;
          continue;
        }
        this.urgent.splice(i, 1);
        this.waitingCount -= 1;
        this.hand(ticket, upstream);
      }
      let placed = true;
      while (placed && this.ring.length > 0) {
        placed = false;
        for (let step = 0; step < this.ring.length; step++) {
          const index = (this.turn + step) % this.ring.length;
          const keyId = this.ring[index]!;
          const queue = this.queues.get(keyId)!;
          const ticket = queue[0]!;
          const upstream = this.route(ticket.request, ticket);
          if (!upstream) continue;
          queue.shift();
          this.waitingCount -= 1;
          if (keyId !== this.jumpedBy) this.jumpedBy = undefined;
          const credit = (this.credits.get(keyId) ?? weightOf(ticket.request)) - 1;
          if (queue.length === 0) {
            this.dropKey(index, keyId);
          } else if (credit <= 0) {
            this.credits.set(keyId, weightOf(queue[0]!.request));
            this.turn = (index + 1) % this.ring.length;
          } else {
            this.credits.set(keyId, credit);
            this.turn = index;
          }
          this.hand(ticket, upstream);
          placed = true;
          break;
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** The upstream the request should go to now, or undefined when it must wait. */
  choose(request: SlotRequest): UpstreamState | undefined {
    return this.route(request);
  }

  /** `choose` for a request that is not waiting yet, or for a waiting one's ticket. */
  private route(request: SlotRequest, ticket?: Ticket): UpstreamState | undefined {
    const now = this.now();
    const candidates = this.candidates(request);
    const passing = candidates.filter((u) => u.breaker.allows(now));
    const usable = passing.length > 0 ? passing : candidates;
    const free = usable.filter((u) => u.freeSlotsFor(request.keyId) > 0);
    if (free.length === 0) return undefined;
    const model = request.model;
    const previous = this.previousUpstream(request, usable, free);
    if (previous) {
      if (free.includes(previous)) return previous;
      // Full: wait for it (its cache holds the conversation), unless that wait looks long.
      const ahead = (this.pinned.get(previous.id) ?? 0) - (ticket?.pinnedTo === previous.id ? 1 : 0);
      const waited = ticket ? now - ticket.enqueuedAt : 0;
      if (ahead < previous.config.maxParallel && waited < this.affinityWaitMs) return undefined;
    }
    let best: UpstreamState | undefined;
    for (const upstream of free) if (!best || better(upstream, best, model)) best = upstream;
    return best;
  }

  /**
   * The usable upstream that served this conversation's last request for this model, unless the
   * model has left its memory while another free one holds it (the warm cache is gone anyway).
   */
  private previousUpstream(request: SlotRequest, usable: UpstreamState[], free: UpstreamState[]): UpstreamState | undefined {
    const conversation = conversationKey(request);
    if (conversation === undefined) return undefined;
    const id = this.affinity.get(conversation);
    const previous = id === undefined ? undefined : usable.find((u) => u.id === id);
    if (!previous || request.model === null || previous.loaded.has(request.model)) return previous;
    return free.some((u) => u.loaded.has(request.model!)) ? undefined : previous;
  }

  /** Enabled upstreams that can serve the request, failed ones excluded. */
  private candidates(request: SlotRequest): UpstreamState[] {
    const enabled = this.source.upstreams().filter((u) => u.config.enabled && !request.exclude?.has(u.id));
    if (request.model === null) return enabled;
    const listing = enabled.filter((u) => u.hasModel(request.model!) === true);
    if (listing.length > 0) return listing;
    // Not polled yet, or nobody lists it: those not known to lack it, else all (Ollama says "not found").
    const unknown = enabled.filter((u) => u.hasModel(request.model!) === undefined);
    if (unknown.length > 0) return unknown;
    // A failover never goes to a server known to lack the model: its "not found" would hide the real failure.
    return request.exclude && request.exclude.size > 0 ? [] : enabled;
  }

  private grant(request: SlotRequest, upstream: UpstreamState, enqueuedAt: number): Lease {
    const now = this.now();
    upstream.taken(request.keyId);
    upstream.breaker.taken(now);
    // Ollama loads the model for this request: route the next ones as if the poll had seen it (the
    // next poll of /api/ps says what really is in memory).
    if (request.model !== null) upstream.loaded.add(request.model);
    const conversation = conversationKey(request);
    if (conversation !== undefined) this.remember(conversation, upstream.id);
    const waitedMs = now - enqueuedAt;
    this.events.waited?.(upstream, waitedMs / 1000);
    let released = false;
    return {
      upstream,
      waitedMs,
      release: () => {
        if (released) return;
        released = true;
        upstream.released(request.keyId);
        this.dispatch();
      },
    };
  }

  private hand(ticket: Ticket, upstream: UpstreamState): void {
    this.unpin(ticket);
    clearTimeout(ticket.timer);
    if (ticket.onAbort) ticket.request.signal?.removeEventListener('abort', ticket.onAbort);
    ticket.resolve(this.grant(ticket.request, upstream, ticket.enqueuedAt));
  }

  private enqueue(ticket: Ticket): void {
    this.waitingCount += 1;
    const conversation = conversationKey(ticket.request);
    const pinnedTo = conversation === undefined ? undefined : this.affinity.get(conversation);
    if (pinnedTo !== undefined) {
      ticket.pinnedTo = pinnedTo;
      this.pinned.set(pinnedTo, (this.pinned.get(pinnedTo) ?? 0) + 1);
    }
    if (ticket.request.urgent) {
      this.urgent.push(ticket);
      return;
    }
    const keyId = ticket.request.keyId;
    const queue = this.queues.get(keyId);
    if (queue) {
      queue.push(ticket);
      return;
    }
    this.queues.set(keyId, [ticket]);
    this.credits.set(keyId, weightOf(ticket.request));
    // A key that starts waiting has had no turn: it takes the current one, ahead of keys that waited
    // all along (each key still gets one turn per round, so a key rejoining often gains nothing).
    // Only one key at a time jumps ahead of the key whose turn it is: the next ones to start waiting
    // join at the end of the round, in the order they came, so a stream of new keys can neither
    // starve the keys that wait nor be served newest first.
    if (this.turn > this.ring.length) this.turn = 0;
    this.ring.splice(this.turn, 0, keyId);
    if (this.ring.length === 1) this.jumpedBy = undefined;
    else if (this.jumpedBy === undefined) this.jumpedBy = keyId;
    else this.turn += 1;
  }

  /**
   * Takes the newest ticket of the key with the most waiting requests out of the queue, when that key
   * has more waiting than `keyId` has; undefined otherwise (the newcomer's own key is the longest).
   */
  private evictFromLongest(keyId: number): Ticket | undefined {
    let longest: Ticket[] | undefined;
    for (const queue of this.queues.values()) if (!longest || queue.length > longest.length) longest = queue;
    const own = this.queues.get(keyId)?.length ?? 0;
    if (!longest || longest.length <= own + 1) return undefined;
    const ticket = longest[longest.length - 1]!;
    this.remove(ticket);
    return ticket;
  }

  /** Takes a waiting ticket out (timeout, abort); false when it was no longer waiting. */
  private remove(ticket: Ticket): boolean {
    this.unpin(ticket);
    clearTimeout(ticket.timer);
    if (ticket.onAbort) ticket.request.signal?.removeEventListener('abort', ticket.onAbort);
    const urgentIndex = this.urgent.indexOf(ticket);
    if (urgentIndex >= 0) {
      this.urgent.splice(urgentIndex, 1);
      this.waitingCount -= 1;
      return true;
    }
    const keyId = ticket.request.keyId;
    const queue = this.queues.get(keyId);
    const at = queue?.indexOf(ticket) ?? -1;
    if (!queue || at < 0) return false;
    queue.splice(at, 1);
    this.waitingCount -= 1;
    if (queue.length === 0) this.dropKey(this.ring.indexOf(keyId), keyId);
    return true;
  }

  private unpin(ticket: Ticket): void {
    if (ticket.pinnedTo === undefined) return;
    const left = (this.pinned.get(ticket.pinnedTo) ?? 1) - 1;
    if (left > 0) this.pinned.set(ticket.pinnedTo, left);
    else this.pinned.delete(ticket.pinnedTo);
    ticket.pinnedTo = undefined;
  }

  private dropKey(index: number, keyId: number): void {
    this.queues.delete(keyId);
    this.credits.delete(keyId);
    this.ring.splice(index, 1);
    if (this.ring.length === 0) {
      this.turn = 0;
      this.jumpedBy = undefined;
    } else if (index < this.turn) this.turn -= 1;
    else if (this.turn >= this.ring.length) this.turn = 0;
  }

  private remember(conversation: string, upstreamId: number): void {
    this.affinity.delete(conversation);
    this.affinity.set(conversation, upstreamId);
    if (this.affinity.size > this.affinityEntries) this.affinity.delete(this.affinity.keys().next().value!);
  }

  private *allTickets(): Iterable<Ticket> {
    yield* this.urgent;
    for (const queue of this.queues.values()) yield* queue;
  }
}

/** Loaded model first (no swap), then more free slots, then higher priority, then fewer in flight. */
function better(a: UpstreamState, b: UpstreamState, model: string | null): boolean {
  if (model !== null) {
    const loadedA = a.loaded.has(model);
    const loadedB = b.loaded.has(model);
    if (loadedA !== loadedB) return loadedA;
  }
  if (a.freeSlots() !== b.freeSlots()) return a.freeSlots() > b.freeSlots();
  if (a.config.priority !== b.config.priority) return a.config.priority > b.config.priority;
  return a.inFlight < b.inFlight;
}

/** Affinity is per conversation and model: each model's prompt cache lives where that model ran. */
function conversationKey(request: SlotRequest): string | undefined {
  return request.affinity === undefined ? undefined : `${request.affinity}\u0000${request.model ?? ''}`;
}

function weightOf(request: SlotRequest): number {
  return Math.max(1, Math.floor(request.weight ?? 1));
}

function abortError(): Error {
  const error = new Error('request aborted by the client');
  error.name = 'AbortError';
  return error;
}
