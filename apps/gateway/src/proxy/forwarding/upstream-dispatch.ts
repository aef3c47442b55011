import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Response } from 'express';
import type { AppConfig } from '@llmproxy/config';
import { canonicalModelName, DialectError, type Dialect } from '@llmproxy/dialects';
import { OllamaUpstream, readText, UpstreamError, type UpstreamRequest, type UpstreamResponse } from '@llmproxy/ollama';
import { conversationOf, NoUpstreamError, OverloadedError, Scheduler, UpstreamPool, type Lease, type UpstreamState } from '@llmproxy/upstreams';
import { GatewayMetrics } from '../../core/metrics.js';
import type { ProxyRequest } from '../proxy-request.js';

/** The header naming the upstream that served a request (its admin-given name, never its URL). */
export const UPSTREAM_HEADER = 'x-llmproxy-upstream';

export interface DispatchRequest {
  method: UpstreamRequest['method'];
  path: string;
  body?: string;
  signal: AbortSignal;
}

/** An answer's headers from one upstream, and the slot it holds until `done`. */
export interface Dispatched {
  response: UpstreamResponse;
  upstream: UpstreamState;
  /** Frees the slot; with a message when the upstream failed mid-answer (its breaker counts it). */
  done(failure?: string): void;
}

/**
 * Where a request goes among the Ollama servers (DESIGN.md §9): inference takes a slot from the
 * Scheduler (fair queue across keys, routing by model, loaded model, free slots, affinity) and fails
 * over once — a refused or reset connection, a timeout or a 5xx before the first byte is retried on
 * another upstream that has the model, and the client never sees the first failure. After the first
 * byte there is no retry. Catalogue calls take no slot. Owns the data plane's HTTP client.
 */
@Injectable()
export class UpstreamDispatch implements OnModuleDestroy {
  readonly http: OllamaUpstream;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly pool: UpstreamPool,
    private readonly scheduler: Scheduler,
    private readonly metrics: GatewayMetrics,
  ) {
    this.http = new OllamaUpstream({
      connectMs: 2_000,
      firstByteMs: config.get('upstreamTimeoutMs', { infer: true }),
      idleMs: config.get('upstreamIdleTimeoutMs', { infer: true }),
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.http.close();
  }

  /**
   * An inference request: a slot, then the request, failed over once. Throws UpstreamError (the
   * last failure), OverloadedError (no slot in time) or an AbortError (client gone while waiting).
   */
  async inference(request: ProxyRequest, model: string | null, target: DispatchRequest): Promise<Dispatched> {
    const key = request.apiKey!;
    const canonical = model === null ? null : canonicalModelName(model);
    // Affinity matters only where there is a choice; the opening's hash is not computed otherwise.
    const affinity = this.pool.enabledCount > 1 ? conversationOf(key.id, request.headers, request.json) : undefined;
    const slot = { keyId: key.id, weight: key.queueWeight, model: canonical, affinity, signal: target.signal };
    const lease = await this.scheduler.acquire(slot);
    const first = await this.attempt(lease, target);
    if (!('failure' in first)) return first;
    if (target.signal.aborted) throw first.failure;
    // Failover: once, to another upstream, ahead of every waiting request.
    this.metrics.failedOver(lease.upstream.name);
    lease.upstream.failovers += 1;
    let second: Lease;
    try {
      second = await this.scheduler.acquire({ ...slot, exclude: new Set([lease.upstream.id]), urgent: true });
    } catch (error) {
      if (error instanceof NoUpstreamError) {
        // Nowhere else to go: the first answer (a 5xx) or failure is the client's.
        if (first.answer) return first.answer;
        throw first.failure;
      }
      first.answer?.response.body.destroy();
      first.answer?.done();
      throw error;
    }
    first.answer?.response.body.destroy();
    first.answer?.done();
    const retried = await this.attempt(second, target);
    if ('failure' in retried) {
      if (retried.answer) return retried.answer;
      throw retried.failure;
    }
    return retried;
  }

  /** A catalogue call (/api/show, /api/version, …): no slot; to an upstream that has the model, else the first answering one. */
  async control(model: string | null, target: DispatchRequest): Promise<Dispatched> {
    const upstream = model !== null ? this.pool.withModel(model) : this.pool.firstAnswering();
    if (!upstream) throw this.pool.noneAnswering();
    const response = await this.http.send(upstream.url, target);
    return { response, upstream, done: () => undefined };
  }

  /** The upstream's /api/ps entries, each with `upstream` naming it. */
  async loaded(upstream: UpstreamState): Promise<Record<string, unknown>[]> {
    const answer = await this.http.send(upstream.url, { method: 'GET', path: '/api/ps', signal: AbortSignal.timeout(5_000) });
    const text = await readText(answer.body);
    if (answer.status !== 200) throw new UpstreamError('broken', `Ollama at ${upstream.name} answered ${answer.status} to /api/ps`);
    const body = JSON.parse(text) as { models?: Record<string, unknown>[] };
    return (body.models ?? []).map((model) => ({ ...model, upstream: upstream.name }));
  }

  /**
   * One try on the lease's upstream. A failure worth a failover comes back as `failure` (with the
   * 5xx answer itself when there was one, so that it can be passed on if no other upstream exists);
   * anything else is the answer.
   */
  private async attempt(lease: Lease, target: DispatchRequest): Promise<Dispatched | { failure: Error; answer?: Dispatched }> {
    const upstream = lease.upstream;
    let released = false;
    const done = (failure?: string) => {
      if (released) return;
      released = true;
      if (failure !== undefined) this.pool.failed(upstream, failure);
      lease.release();
    };
    let response: UpstreamResponse;
    try {
      response = await this.http.send(upstream.url, target);
    } catch (error) {
      const failure = error as UpstreamError;
      if (failure.failure === 'aborted' || target.signal.aborted) {
        done();
        throw failure;
      }
      done(failure.message);
      return { failure };
    }
    const answer: Dispatched = { response, upstream, done };
    if (response.status >= 500) {
      this.pool.failed(upstream, `answered ${response.status}`);
      return { failure: new UpstreamError('broken', `Ollama answered ${response.status}`), answer };
    }
    this.pool.succeeded(upstream);
    upstream.served += 1;
    return answer;
  }
}

/**
 * The dialect's "overloaded" answer for a request that found no slot in time: Anthropic's 529
 * `overloaded_error` (which Claude Code retries), 503 elsewhere; with Retry-After.
 */
export function overloaded(error: OverloadedError, dialect: Dialect, response: Response): DialectError {
  if (!response.headersSent) response.setHeader('retry-after', String(error.retryAfterSeconds));
  return new DialectError(dialect === 'anthropic' ? 529 : 503, error.message, undefined, dialect === 'anthropic' ? undefined : 'overloaded');
}
