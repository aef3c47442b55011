import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Dialect } from '@llmproxy/dialects';
import type { QuotaKind } from '@llmproxy/quota';
import type { Scheduler, UpstreamPool } from '@llmproxy/upstreams';
import { RecentActivity, refusalOfStatus } from './recent-activity.js';

/** Why a call to Ollama failed, as the usage log names it. */
export type UpstreamFailureOutcome = 'upstream_error' | 'upstream_unreachable' | 'upstream_timeout';

/**
 * The process's Prometheus metrics: one registry, created by the composition root and handed to both
 * Nest applications by value (like the logger), so what the proxy records is what the admin's
 * GET /metrics shows. Recording is counters, histograms and one gauge — a label lookup and an add
 * on the data plane, nothing else. Label values are bounded: dialects, route patterns (never the
 * requested path), status codes, key names and model names.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** The last hour a minute at a time, for the admin's overview. */
  readonly recent = new RecentActivity();
  /** Streaming responses in progress (the gauge's value, readable without a scrape). */
  streamsInFlight = 0;

  private readonly requests = new Counter({
    name: 'llmproxy_requests_total',
    help: 'Requests answered on the proxy listener, by dialect, route pattern and HTTP status.',
    labelNames: ['dialect', 'route', 'status'] as const,
    registers: [this.registry],
  });

  private readonly duration = new Histogram({
    name: 'llmproxy_request_duration_seconds',
    help: 'Time from the request arriving to the response ending (streams included), by dialect and route pattern.',
    labelNames: ['dialect', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  private readonly firstToken = new Histogram({
    name: 'llmproxy_time_to_first_token_seconds',
    help: "Time from the request arriving to Ollama's first output chunk, for inference requests, by dialect and model.",
    labelNames: ['dialect', 'model'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
    registers: [this.registry],
  });

  private readonly tokens = new Counter({
    name: 'llmproxy_tokens_total',
    help: 'Tokens charged to keys (Ollama counts, or estimates where it gave none), by key name, model and type (prompt or completion).',
    labelNames: ['key', 'model', 'type'] as const,
    registers: [this.registry],
  });

  private readonly refusals = new Counter({
    name: 'llmproxy_quota_refusals_total',
    help: 'Inference requests refused with 429 by a quota, by kind (requests, tokens, concurrency).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly upstreamErrors = new Counter({
    name: 'llmproxy_upstream_errors_total',
    help: 'Calls to Ollama that failed: upstream_unreachable, upstream_timeout, or upstream_error (an error status or a broken stream).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly streams = new Gauge({
    name: 'llmproxy_streams_in_flight',
    help: 'Streaming inference responses in progress on the proxy listener.',
    registers: [this.registry],
  });

  private readonly queueWait = new Histogram({
    name: 'llmproxy_queue_wait_seconds',
    help: "Time inference requests waited in the gateway's fair queue for a free slot, by the upstream that then served them.",
    labelNames: ['upstream'] as const,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  private readonly failovers = new Counter({
    name: 'llmproxy_upstream_failovers_total',
    help: 'Requests moved to another upstream after this one failed before the first byte.',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });

  private readonly overloaded = new Counter({
    name: 'llmproxy_queue_overloaded_total',
    help: 'Requests answered "overloaded" (Anthropic 529, OpenAI and Ollama 503) because the queue was full or they waited too long.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Process CPU, memory, event-loop lag, GC: the usual nodejs_*/process_* series.
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * The labelled series, looked up once per label combination: prom-client's `labels()` hashes the
   * values and builds a new child object on every call, which showed in the data plane's profile.
   */
  private readonly children = new Map<string, object>();

  private child<T extends object>(metric: { labels(...values: string[]): T }, id: string, ...values: string[]): T {
    const key = `${id}\u0000${values.join('\u0000')}`;
    let child = this.children.get(key) as T | undefined;
    if (!child) {
      child = metric.labels(...values);
      this.children.set(key, child);
    }
    return child;
  }

  request(dialect: Dialect, route: string, status: number, seconds: number): void {
    this.child(this.requests, 'r', dialect, route, String(status)).inc();
    this.child(this.duration, 'd', dialect, route).observe(seconds);
    this.recent.request();
    const refusal = refusalOfStatus(status);
    if (refusal) this.recent.refused(refusal);
  }

  timeToFirstToken(dialect: Dialect, model: string, seconds: number): void {
    this.child(this.firstToken, 'f', dialect, model).observe(seconds);
  }

  charged(keyName: string, model: string, promptTokens: number, completionTokens: number): void {
    if (promptTokens > 0) this.child(this.tokens, 't', keyName, model, 'prompt').inc(promptTokens);
    if (completionTokens > 0) this.child(this.tokens, 't', keyName, model, 'completion').inc(completionTokens);
  }

  quotaRefused(kind: QuotaKind): void {
    this.refusals.labels(kind).inc();
    this.recent.refused(`quota_${kind}`);
  }

  upstreamFailed(outcome: UpstreamFailureOutcome): void {
    this.upstreamErrors.labels(outcome).inc();
  }

  streamStarted(): void {
    this.streams.inc();
    this.streamsInFlight += 1;
  }

  streamEnded(): void {
    this.streams.dec();
    this.streamsInFlight -= 1;
  }

  queueWaited(upstream: string, seconds: number): void {
    this.child(this.queueWait, 'q', upstream).observe(seconds);
  }

  failedOver(upstream: string): void {
    this.failovers.labels(upstream).inc();
  }

  overloadedAnswered(reason: string): void {
    this.overloaded.labels(reason).inc();
    this.recent.refused('overloaded');
  }

  /**
   * Series read from the upstream pool and the scheduler when /metrics is scraped (nothing on the
   * data plane): requests in flight and breaker state per upstream, requests waiting in the queue.
   */
  watchUpstreams(pool: UpstreamPool, scheduler: Scheduler): void {
    const breakerValue = { closed: 0, half_open: 1, open: 2 } as const;
    new Gauge({
      name: 'llmproxy_upstream_in_flight',
      help: 'Requests this process has in flight on each upstream (at most its max_parallel).',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const upstream of pool.upstreams()) this.labels(upstream.name).set(upstream.inFlight);
      },
    });
    new Gauge({
      name: 'llmproxy_upstream_breaker_state',
      help: "Each upstream's circuit breaker in this process: 0 closed (in use), 1 half open (one probe), 2 open (out).",
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const upstream of pool.upstreams()) this.labels(upstream.name).set(breakerValue[upstream.breaker.state(now)]);
      },
    });
    new Gauge({
      name: 'llmproxy_upstream_queue_length',
      help: 'Requests waiting in this process for a slot, by upstream that could serve them (a request may count for several).',
      labelNames: ['upstream'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const upstream of pool.upstreams()) this.labels(upstream.name).set(scheduler.waitingFor(upstream));
      },
    });
    new Gauge({
      name: 'llmproxy_queue_length',
      help: "Requests waiting in this process's fair queue for a free slot on an upstream.",
      registers: [this.registry],
      collect() {
        this.set(scheduler.waiting);
      },
    });
  }

  /** The exposition (text format 0.0.4) and its content type. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

