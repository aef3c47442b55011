import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Response } from 'express';
import type { AppConfig } from '@llmproxy/config';
import { dialectForPath } from '@llmproxy/dialects';
import { OllamaMeter, type UsageRecord } from '@llmproxy/metering';
import type { OllamaChunk } from '@llmproxy/ollama';
import { NdjsonScanner, readText, toUpstreamError, UpstreamError, type UpstreamRequest } from '@llmproxy/ollama';
import { OverloadedError } from '@llmproxy/upstreams';
import { GatewayMetrics, type UpstreamFailureOutcome } from '../../core/metrics.js';
import type { Metering, ProxyRequest } from '../proxy-request.js';
import { InferenceGate } from '../quota/inference-gate.js';
import { ClientStalledError, watchClient, type WatchedClient } from './client-watch.js';
import { overloaded, UPSTREAM_HEADER, UpstreamDispatch, type Dispatched } from './upstream-dispatch.js';
import { readChunks } from './read-chunks.js';
import type { TranslatedExchange } from './translated-exchange.js';

export interface ForwardOptions {
  method: UpstreamRequest['method'];
  /** Path on Ollama, e.g. `/api/chat`. */
  path: string;
  body?: Record<string, unknown>;
  /** Inference: meter the answer and write a usage record. */
  meter?: { model: string | null; stream: boolean };
  /** A catalogue call about one model (/api/show): sent to an upstream that has it. */
  model?: string;
}

/** Response headers of Ollama's that reach the client; nothing else does (no set-cookie, no server banner). */
const PASSED_HEADERS = ['content-type'] as const;

/** What a stream cut by the shutdown tells its client, in-band. */
export const SHUTDOWN_MESSAGE = 'the gateway is shutting down; the response was cut short';
/** What a translated stream whose upstream ended without Ollama's final chunk tells its client, in-band. */
export const UNFINISHED_MESSAGE = 'Ollama ended the stream without finishing the answer (no final chunk)';

/** One exchange with Ollama in progress: how to abort it, and whether the shutdown did. */
interface Exchange {
  abort: AbortController;
  cutByShutdown: boolean;
}

/**
 * Sends one request to Ollama and streams the answer to the client as it arrives, chunk by chunk,
 * with backpressure. A client that goes away aborts the upstream request at once. Inference answers
 * are metered on the way through into `request.metering`, which the quota interceptor settles.
 */
@Injectable()
export class UpstreamForwarder {
  private readonly exchanges = new Set<Exchange>();
  private readonly stallMs: number;

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly dispatch: UpstreamDispatch,
    private readonly metrics: GatewayMetrics,
    private readonly gate: InferenceGate,
  ) {
    this.stallMs = config.get('clientStallTimeoutMs', { infer: true });
  }

  /**
   * The shutdown's last word after its grace period: aborts every exchange with Ollama still in
   * progress. Each ends its response with an in-band error (or an error status when nothing was sent
   * yet) and is settled through the normal path. Returns how many were cut.
   */
  cutAll(): number {
    for (const exchange of this.exchanges) {
      exchange.cutByShutdown = true;
      exchange.abort.abort();
    }
    return this.exchanges.size;
  }

  async forward(request: ProxyRequest, response: Response, options: ForwardOptions): Promise<void> {
    const client = watchClient(request, response, this.stallMs);
    if (options.meter && !(await this.admit(request, response, options.body ?? {}, client, options.meter.model, options.meter.stream))) return;
    const abort = client.abort;
    const exchange: Exchange = { abort, cutByShutdown: false };
    this.exchanges.add(exchange);
    const meter = options.meter ? new OllamaMeter() : undefined;
    const streaming = options.meter?.stream === true;
    if (streaming) this.metrics.streamStarted();
    let firstChunk = meter !== undefined;
    const state: ExchangeState = { outcome: 'ok', status: 502, evaluated: false };
    let dispatched: Dispatched | undefined;
    try {
      const target = { method: options.method, path: options.path, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: abort.signal };
      dispatched = await (options.meter ? this.dispatch.inference(request, options.meter.model, target) : this.dispatch.control(options.model ?? null, target)).catch(
        (error: unknown) => {
          if (exchange.cutByShutdown) {
            state.outcome = 'upstream_error';
            state.status = 503;
            throw new ServiceUnavailableException(SHUTDOWN_MESSAGE, { cause: error });
          }
          if (error instanceof OverloadedError) {
            const answer = overloaded(error, dialectForPath(request.path), response);
            state.outcome = 'overloaded';
            state.status = answer.status;
            throw answer;
          }
          const failure = toUpstreamError(error, '');
          state.outcome = outcomeOf(failure);
          state.status = failure.failure === 'aborted' ? 499 : failure.status;
          state.evaluated = reachedOllama(failure);
          throw failure;
        },
      );
      const upstream = dispatched.response;
      state.upstream = dispatched.upstream.name;
      response.setHeader(UPSTREAM_HEADER, dispatched.upstream.name);
      state.status = upstream.status;
      state.evaluated = !refusedByOllama(upstream.status);
      response.status(upstream.status).setHeader('x-request-id', request.requestId);
      for (const name of PASSED_HEADERS) {
        const value = upstream.headers[name];
        if (value !== undefined) response.setHeader(name, value);
      }
      if (upstream.status >= 400) state.outcome = 'upstream_error';

      // A single JSON answer (not a stream) leaves in one write with a Content-Length, as Ollama sent
      // it: chunked framing and a second write for the end cost more than holding a few kilobytes.
      const whole: Buffer[] | undefined = streaming ? undefined : [];
      try {
        await readChunks(upstream.body, (chunk) => {
          if (firstChunk) {
            firstChunk = false;
            this.metrics.timeToFirstToken('ollama', options.meter!.model ?? 'unknown', (Date.now() - request.startedAt) / 1000);
          }
          meter?.push(chunk);
          if (whole) whole.push(chunk);
          else if (!response.write(chunk)) return client.drained();
          return undefined;
        });
        meter?.end();
        if (meter?.error) state.outcome = 'upstream_error';
        response.end(whole && (whole.length === 1 ? whole[0] : Buffer.concat(whole)));
      } catch (error) {
        upstream.body.destroy();
        if ((abort.signal.aborted || error instanceof ClientStalledError) && !exchange.cutByShutdown) {
          state.outcome = 'client_aborted';
          state.status = 499;
          return;
        }
        state.outcome = 'upstream_error';
        const failure = error instanceof UpstreamError ? error : toUpstreamError(error, dispatched.upstream.url);
        if (!exchange.cutByShutdown) state.midStream = failure.message;
        const message = exchange.cutByShutdown ? SHUTDOWN_MESSAGE : failure.message;
        if (!response.headersSent) {
          // A whole answer cut before it was complete: nothing was sent, so an error status can be.
          state.status = exchange.cutByShutdown ? 503 : failure.status;
          response.status(state.status).json({ error: message });
        } else if (!response.writableEnded) {
          // Headers are out: tell the client the way Ollama itself reports a mid-stream failure.
          response.end(`${JSON.stringify({ error: message })}\n`);
        }
      }
    } catch (error) {
      if (state.outcome === 'client_aborted') return;
      throw error;
    } finally {
      dispatched?.done(state.midStream);
      client.release();
      this.exchanges.delete(exchange);
      if (streaming) this.metrics.streamEnded();
      this.countFailure(state.outcome, exchange);
      if (options.meter) request.metering = metering(options.meter.model, options.meter.stream, state, meter);
    }
  }

  /**
   * The InferenceGate's admission, with the client watched from before it: a client gone before or
   * while admission waited on the database is settled at once — its request counted (every usage
   * line but a refusal is a counted request), no token charged, since nothing reached Ollama.
   * Returns false when the exchange must not go on.
   */
  private async admit(
    request: ProxyRequest,
    response: Response,
    body: Record<string, unknown>,
    client: WatchedClient,
    model: string | null,
    stream: boolean,
  ): Promise<boolean> {
    const gone = () => {
      client.release();
      request.metering = metering(model, stream, { outcome: 'client_aborted', status: 499, evaluated: false }, undefined);
      return false;
    };
    try {
      await this.gate.admit(request, response, body);
    } catch (error) {
      client.release();
      throw error;
    }
    return client.abort.signal.aborted ? gone() : true;
  }

  private countFailure(outcome: UsageRecord['outcome'], exchange: Exchange): void {
    if (outcome === 'upstream_error' || outcome === 'upstream_unreachable' || outcome === 'upstream_timeout') {
      // A stream the shutdown cut is not Ollama's failure.
      if (!exchange.cutByShutdown) this.metrics.upstreamFailed(outcome satisfies UpstreamFailureOutcome);
    }
  }

  /**
   * A translated exchange (OpenAI, Anthropic): Ollama's NDJSON is parsed as it arrives and each chunk
   * becomes the dialect's frames at once (streaming client) or is aggregated into one answer. Errors
   * before the response started get the dialect's HTTP error; after, an in-band error frame.
   */
  async translate(request: ProxyRequest, response: Response, exchange: TranslatedExchange): Promise<void> {
    const client = watchClient(request, response, this.stallMs);
    if (!(await this.admit(request, response, exchange.body as Record<string, unknown>, client, exchange.model, exchange.sse !== undefined))) return;
    const abort = client.abort;
    const inFlight: Exchange = { abort, cutByShutdown: false };
    this.exchanges.add(inFlight);
    const dialect = dialectForPath(request.path);
    let firstChunk = true;
    const meter = new OllamaMeter();
    const state: ExchangeState = { outcome: 'ok', status: 502, evaluated: false };
    const sse = exchange.sse;
    // Re-armed by every write: a ping goes out whenever nothing was written for pingEveryMs, for the
    // whole stream — Ollama is silent while it reads a long prompt and while its parser buffers a long
    // tool call, and Claude Code gives up on a stream that shows no event for ~15 s.
    let pingTimer: NodeJS.Timeout | undefined;
    let startTimer: NodeJS.Timeout | undefined;
    const write = (text: string) => {
      if (text === '') return true;
      pingTimer?.refresh();
      return response.write(text);
    };
    const startSse = () => {
      if (response.headersSent || !sse) return;
      response.status(200).setHeader('content-type', 'text/event-stream; charset=utf-8');
      response.setHeader('cache-control', 'no-cache');
      response.setHeader('x-request-id', request.requestId);
      state.status = 200;
      // The headers leave with the first event (one write, not two) or, for a dialect that has none
      // before Ollama's first token, on their own now.
      const first = sse.start ? sse.start() : '';
      if (first === '') response.flushHeaders();
      else write(first);
      if (sse.ping && sse.pingEveryMs) {
        const ping = () => {
          write(sse.ping!());
          pingTimer?.refresh();
        };
        pingTimer = setTimeout(ping, sse.pingEveryMs);
        pingTimer.unref();
      }
    };
    const fail = (status: number, message: string) => {
      if (!response.headersSent) {
        state.status = status;
        response.status(status).setHeader('x-request-id', request.requestId).json(exchange.errorBody(status, message));
      } else if (!response.writableEnded) {
        response.end(sse ? sse.error(message, status) : undefined);
      }
    };
    if (sse) this.metrics.streamStarted();
    let dispatched: Dispatched | undefined;
    try {
      if (sse?.startAfterMs !== undefined) startTimer = setTimeout(startSse, sse.startAfterMs);
      let upstream;
      try {
        dispatched = await this.dispatch.inference(request, exchange.model, { method: 'POST', path: exchange.path, body: JSON.stringify(exchange.body), signal: abort.signal });
        upstream = dispatched.response;
        state.upstream = dispatched.upstream.name;
        if (!response.headersSent) response.setHeader(UPSTREAM_HEADER, dispatched.upstream.name);
      } catch (error) {
        if (inFlight.cutByShutdown) {
          state.outcome = 'upstream_error';
          fail(503, SHUTDOWN_MESSAGE);
          return;
        }
        if (error instanceof OverloadedError) {
          const answer = overloaded(error, dialect, response);
          state.outcome = 'overloaded';
          fail(answer.status, answer.message);
          return;
        }
        const failure = toUpstreamError(error, '');
        state.evaluated = reachedOllama(failure);
        if (failure.failure === 'aborted') {
          state.outcome = 'client_aborted';
          state.status = 499;
          return;
        }
        state.outcome = outcomeOf(failure);
        fail(failure.status, failure.message);
        if (!response.headersSent) state.status = failure.status;
        return;
      }
      clearTimeout(startTimer);
      state.evaluated = !refusedByOllama(upstream.status);
      if (upstream.status >= 400) {
        // Ollama's own refusal ({"error": "model 'x' not found"}): same status, the dialect's shape.
        state.outcome = 'upstream_error';
        const text = await readText(upstream.body).catch(() => '');
        fail(upstream.status, ollamaErrorMessage(text, upstream.status));
        return;
      }
      startSse();
      const scanner = new NdjsonScanner<OllamaChunk>((chunk) => {
        meter.observe(chunk);
        if (sse) write(sse.chunk(chunk));
        else exchange.json!.chunk(chunk);
      });
      try {
        await readChunks(upstream.body, (bytes) => {
          if (firstChunk) {
            firstChunk = false;
            this.metrics.timeToFirstToken(dialect, exchange.model, (Date.now() - request.startedAt) / 1000);
          }
          scanner.push(bytes);
          return response.writableNeedDrain ? client.drained() : undefined;
        });
        scanner.end();
      } catch (error) {
        upstream.body.destroy();
        if ((abort.signal.aborted || error instanceof ClientStalledError) && !inFlight.cutByShutdown) {
          state.outcome = 'client_aborted';
          state.status = 499;
          return;
        }
        state.outcome = 'upstream_error';
        if (inFlight.cutByShutdown) {
          fail(503, SHUTDOWN_MESSAGE);
          return;
        }
        const failure = error instanceof UpstreamError ? error : toUpstreamError(error, dispatched!.upstream.url);
        state.midStream = failure.message;
        fail(502, failure.message);
        return;
      }
      if (meter.error) state.outcome = 'upstream_error';
      if (!meter.done && !meter.error && exchange.path === '/api/chat') {
        // The body ended cleanly but without Ollama's `done: true` chunk: not a normal stop.
        state.outcome = 'upstream_error';
        fail(502, UNFINISHED_MESSAGE);
      } else if (sse) {
        response.end(sse.end(meter));
      } else if (meter.error && !meter.done) {
        fail(502, meter.error);
      } else {
        state.status = 200;
        response.status(200).setHeader('x-request-id', request.requestId).json(exchange.json!.end(meter));
      }
    } finally {
      dispatched?.done(state.midStream);
      clearTimeout(startTimer);
      clearTimeout(pingTimer);
      client.release();
      this.exchanges.delete(inFlight);
      if (sse) this.metrics.streamEnded();
      this.countFailure(state.outcome, inFlight);
      request.metering = metering(exchange.model, sse !== undefined, state, meter);
    }
  }
}

function outcomeOf(failure: UpstreamError): NonNullable<UsageRecord['outcome']> {
  if (failure.failure === 'aborted') return 'client_aborted';
  return failure.failure === 'timeout' ? 'upstream_timeout' : 'upstream_unreachable';
}

interface ExchangeState {
  outcome: UsageRecord['outcome'];
  status: number;
  /** The upstream that answered (its name), for the usage log. */
  upstream?: string;
  /** Why the upstream failed after its first byte (its breaker counts it); not a client abort or the shutdown. */
  midStream?: string;
  /** The request reached Ollama and Ollama did not refuse it with an error status: its prompt may have been evaluated. */
  evaluated: boolean;
}

/** A failure to send reached Ollama unless it never connected. */
function reachedOllama(failure: UpstreamError): boolean {
  return failure.failure !== 'unreachable';
}

/**
 * Ollama answered an error status instead of an answer: it refused the request before evaluating it
 * (4xx: a bad option, an unknown model; 503: busy; 500: a model that failed to load). Once it has
 * started an answer, errors come in-band under 200 and the prompt was evaluated.
 */
function refusedByOllama(status: number): boolean {
  return status >= 400;
}

function metering(model: string | null, stream: boolean, state: ExchangeState, meter: OllamaMeter | undefined): Metering {
  return {
    model,
    stream,
    status: state.status,
    outcome: state.outcome ?? 'ok',
    promptTokens: meter?.promptTokens,
    completionTokens: meter?.completionTokens,
    generated: meter?.generated ?? '',
    producedOutput: (meter?.chunks ?? 0) > 0 || meter?.done === true,
    evaluated: state.evaluated,
    upstream: state.upstream,
  };
}

/** The message of Ollama's `{"error": "…"}` body, or a generic one. */
function ollamaErrorMessage(text: string, status: number): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON
  }
  return `Ollama answered ${status}`;
}
