import type { TagEntry } from '@llmproxy/ollama';
import { CircuitBreaker, type BreakerOptions } from './breaker.js';

/** One Ollama server as the admin configured it (table `upstreams`). */
export interface UpstreamConfig {
  id: number;
  name: string;
  url: string;
  enabled: boolean;
  /** Requests the gateway sends this server at once; the rest wait in the gateway's fair queue. */
  maxParallel: number;
  /** Among otherwise equal servers, the higher priority is chosen first. */
  priority: number;
  /**
   * Of `maxParallel`, the slots only a key with nothing in flight here may take (default 0): a key
   * holding the others cannot fill them, so a newcomer starts at once instead of waiting for an
   * answer to end, at the price of those slots idling while no other key comes.
   */
  reservedSlots?: number;
}

/** A failure seen on an upstream, for the admin's page. */
export interface UpstreamIncident {
  at: string;
  message: string;
}

const INCIDENTS_KEPT = 10;

/**
 * What this process knows of one upstream: its configuration, its breaker, what its last poll saw
 * (models, loaded models) and counters for the admin page and the metrics. Per process: every
 * replica polls and counts for itself.
 */
export class UpstreamState {
  readonly breaker: CircuitBreaker;
  /** Canonical names of its models (`llama3.2:latest`), from the last successful /api/tags; undefined until one. */
  models: Set<string> | undefined;
  tags: TagEntry[] = [];
  /** Canonical names of the models loaded in memory (/api/ps). */
  loaded = new Set<string>();
  lastPollAt: number | undefined;
  lastPollOk = false;
  /** The last poll's failure, as the error to give a caller when no server answers. */
  lastPollError: Error | undefined;
  readonly incidents: UpstreamIncident[] = [];
  inFlight = 0;
  /** Requests in flight here per key, for the reserved slots. */
  readonly inFlightByKey = new Map<number, number>();
  served = 0;
  failovers = 0;

  constructor(
    public config: UpstreamConfig,
    breaker: BreakerOptions | undefined,
  ) {
    this.breaker = new CircuitBreaker(breaker);
  }

  get id(): number {
    return this.config.id;
  }

  get name(): string {
    return this.config.name;
  }

  get url(): string {
    return this.config.url;
  }

  freeSlots(): number {
    return Math.max(0, this.config.maxParallel - this.inFlight);
  }

  /** Free slots this key may take: the reserved ones only while it has nothing in flight here. */
  freeSlotsFor(keyId: number): number {
    const free = this.freeSlots();
    if (!this.config.reservedSlots || !this.inFlightByKey.has(keyId)) return free;
    return Math.max(0, free - this.config.reservedSlots);
  }

  taken(keyId: number): void {
    this.inFlight += 1;
    this.inFlightByKey.set(keyId, (this.inFlightByKey.get(keyId) ?? 0) + 1);
  }

  released(keyId: number): void {
    this.inFlight -= 1;
    const left = (this.inFlightByKey.get(keyId) ?? 1) - 1;
    if (left > 0) this.inFlightByKey.set(keyId, left);
    else this.inFlightByKey.delete(keyId);
  }

  /** Whether its last catalogue lists the model; undefined while no poll has succeeded. */
  hasModel(model: string): boolean | undefined {
    return this.models?.has(model);
  }

  incident(message: string, now = Date.now()): void {
    this.incidents.unshift({ at: new Date(now).toISOString(), message });
    this.incidents.length = Math.min(this.incidents.length, INCIDENTS_KEPT);
  }
}
