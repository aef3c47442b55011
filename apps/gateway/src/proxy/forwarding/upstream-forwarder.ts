import { once } from 'node:events';
import { Injectable, type OnModuleDestroy, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Response } from 'express';
import type { AppConfig } from '@llmproxy/config';
import { dialectForPath } from '@llmproxy/dialects';
import { OllamaMeter, type UsageRecord } from '@llmproxy/metering';
import type { OllamaChunk } from '@llmproxy/ollama';
import { NdjsonScanner, OllamaUpstream, toUpstreamError, UpstreamError, type UpstreamRequest } from '@llmproxy/ollama';
import { SettingsService } from '@llmproxy/settings';
import { GatewayMetrics, type UpstreamFailureOutcome } from '../../core/metrics.js';
import type { Metering, ProxyRequest } from '../proxy-request.js';
import type { TranslatedExchange } from './translated-exchange.js';

export interface ForwardOptions {
  method: UpstreamRequest['method'];
  /** Path on Ollama, e.g. `/api/chat`. */
  path: string;
  body?: Record<string, unknown>;
  /** Inference: meter the answer and write a usage record. */
  meter?: { model: string | null; stream: boolean };
  /** Catalogue answers (small JSON) that are rewritten before they reach the client. */
  rewriteJson?: (value: unknown) => unknown;
}

/** Response headers of Ollama's that reach the client; nothing else does (no set-cookie, no server banner). */
const PASSED_HEADERS = ['content-type'] as const;

/** What a stream cut by the shutdown tells its client, in-band. */
export const SHUTDOWN_MESSAGE = 'the gateway is shutting down; the response was cut short';

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
export class UpstreamForwarder implements OnModuleDestroy {
  private readonly upstream: OllamaUpstream;
  private readonly exchanges = new Set<Exchange>();

  constructor(
    config: ConfigService<AppConfig, true>,
    private readonly settings: SettingsService,
    private readonly metrics: GatewayMetrics,
  ) {
    this.upstream = new OllamaUpstream({
      connectMs: 2_000,
      firstByteMs: config.get('upstreamTimeoutMs', { infer: true }),
      idleMs: config.get('upstreamIdleTimeoutMs', { infer: true }),
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.upstream.close();
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
    const { ollamaUrl } = await this.settings.get();
    const client = watchClient(response);
    const abort = client.abort;
    const exchange: Exchange = { abort, cutByShutdown: false };
    this.exchanges.add(exchange);
    const meter = options.meter ? new OllamaMeter() : undefined;
    const streaming = options.meter?.stream === true;
    if (streaming) this.metrics.streamStarted();
    let firstChunk = meter !== undefined;
    const state: { outcome: UsageRecord['outcome']; status: number } = { outcome: 'ok', status: 502 };
    try {
      const upstream = await this.upstream
        .send(ollamaUrl, {
          method: options.method,
          path: options.path,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: abort.signal,
        })
        .catch((error: unknown) => {
          if (exchange.cutByShutdown) {
            state.outcome = 'upstream_error';
            state.status = 503;
            throw new ServiceUnavailableException(SHUTDOWN_MESSAGE, { cause: error });
          }
          const failure = toUpstreamError(error, ollamaUrl);
          state.outcome = outcomeOf(failure);
          state.status = failure.failure === 'aborted' ? 499 : failure.status;
          throw failure;
        });
      state.status = upstream.status;
      response.status(upstream.status).setHeader('x-request-id', request.requestId);
      for (const name of PASSED_HEADERS) {
        const value = upstream.headers[name];
        if (value !== undefined) response.setHeader(name, value);
      }
      if (upstream.status >= 400) state.outcome = 'upstream_error';

      if (options.rewriteJson && upstream.status === 200) {
        const text = await readText(upstream.body);
        response.json(options.rewriteJson(JSON.parse(text)));
        return;
      }
      // A single JSON answer (not a stream) leaves in one write with a Content-Length, as Ollama sent
      // it: chunked framing and a second write for the end cost more than holding a few kilobytes.
      const whole: Buffer[] | undefined = streaming ? undefined : [];
      try {
        for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
          if (firstChunk) {
            firstChunk = false;
            this.metrics.timeToFirstToken('ollama', options.meter!.model ?? 'unknown', (Date.now() - request.startedAt) / 1000);
          }
          meter?.push(chunk);
          if (whole) whole.push(chunk);
          else if (!response.write(chunk)) await once(response, 'drain', { signal: abort.signal });
        }
        meter?.end();
        if (meter?.error) state.outcome = 'upstream_error';
        response.end(whole && (whole.length === 1 ? whole[0] : Buffer.concat(whole)));
      } catch (error) {
        upstream.body.destroy();
        if (abort.signal.aborted && !exchange.cutByShutdown) {
          state.outcome = 'client_aborted';
          state.status = 499;
          return;
        }
        state.outcome = 'upstream_error';
        const failure = error instanceof UpstreamError ? error : toUpstreamError(error, ollamaUrl);
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
      client.release();
      this.exchanges.delete(exchange);
      if (streaming) this.metrics.streamEnded();
      this.countFailure(state.outcome, exchange);
      if (options.meter) request.metering = metering(options.meter.model, options.meter.stream, state, meter);
    }
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
    const { ollamaUrl } = await this.settings.get();
    const client = watchClient(response);
    const abort = client.abort;
    const inFlight: Exchange = { abort, cutByShutdown: false };
    this.exchanges.add(inFlight);
    const dialect = dialectForPath(request.path);
    let firstChunk = true;
    const meter = new OllamaMeter();
    const state: { outcome: UsageRecord['outcome']; status: number } = { outcome: 'ok', status: 502 };
    const sse = exchange.sse;
    let pingTimer: NodeJS.Timeout | undefined;
    let startTimer: NodeJS.Timeout | undefined;
    const write = (text: string) => (text === '' ? true : response.write(text));
    const startSse = () => {
      if (response.headersSent || !sse) return;
      response.status(200).setHeader('content-type', 'text/event-stream; charset=utf-8');
      response.setHeader('cache-control', 'no-cache');
      response.setHeader('x-request-id', request.requestId);
      response.flushHeaders();
      state.status = 200;
      if (sse.start) write(sse.start());
      if (sse.ping && sse.pingEveryMs) {
        pingTimer = setInterval(() => write(sse.ping!()), sse.pingEveryMs);
        pingTimer.unref();
      }
    };
    const fail = (status: number, message: string) => {
      if (!response.headersSent) {
        state.status = status;
        response.status(status).setHeader('x-request-id', request.requestId).json(exchange.errorBody(status, message));
      } else if (!response.writableEnded) {
        response.end(sse ? sse.error(message) : undefined);
      }
    };
    if (sse) this.metrics.streamStarted();
    try {
      if (sse?.startAfterMs !== undefined) startTimer = setTimeout(startSse, sse.startAfterMs);
      let upstream;
      try {
        upstream = await this.upstream.send(ollamaUrl, { method: 'POST', path: exchange.path, body: JSON.stringify(exchange.body), signal: abort.signal });
      } catch (error) {
        if (inFlight.cutByShutdown) {
          state.outcome = 'upstream_error';
          fail(503, SHUTDOWN_MESSAGE);
          return;
        }
        const failure = toUpstreamError(error, ollamaUrl);
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
        if (sse) {
          if (pingTimer && (chunk.message || chunk.done)) {
            clearInterval(pingTimer);
            pingTimer = undefined;
          }
          write(sse.chunk(chunk));
        } else exchange.json!.chunk(chunk);
      });
      try {
        for await (const bytes of upstream.body as AsyncIterable<Buffer>) {
          if (firstChunk) {
            firstChunk = false;
            this.metrics.timeToFirstToken(dialect, exchange.model, (Date.now() - request.startedAt) / 1000);
          }
          scanner.push(bytes);
          if (response.writableNeedDrain) await once(response, 'drain', { signal: abort.signal });
        }
        scanner.end();
      } catch (error) {
        upstream.body.destroy();
        if (abort.signal.aborted && !inFlight.cutByShutdown) {
          state.outcome = 'client_aborted';
          state.status = 499;
          return;
        }
        state.outcome = 'upstream_error';
        if (inFlight.cutByShutdown) {
          fail(503, SHUTDOWN_MESSAGE);
          return;
        }
        const failure = error instanceof UpstreamError ? error : toUpstreamError(error, ollamaUrl);
        fail(502, failure.message);
        return;
      }
      if (meter.error) state.outcome = 'upstream_error';
      if (sse) {
        response.end(sse.end(meter));
      } else if (meter.error && !meter.done) {
        fail(502, meter.error);
      } else {
        state.status = 200;
        response.status(200).setHeader('x-request-id', request.requestId).json(exchange.json!.end(meter));
      }
    } finally {
      clearTimeout(startTimer);
      clearInterval(pingTimer);
      client.release();
      this.exchanges.delete(inFlight);
      if (sse) this.metrics.streamEnded();
      this.countFailure(state.outcome, inFlight);
      request.metering = metering(exchange.model, sse !== undefined, state, meter);
    }
  }
}

async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

/** Aborts when the client goes away before the response finished; release() stops watching. */
function watchClient(response: Response): { abort: AbortController; release(): void } {
  const abort = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) abort.abort();
  };
  response.on('close', onClose);
  return { abort, release: () => response.off('close', onClose) };
}

function outcomeOf(failure: UpstreamError): NonNullable<UsageRecord['outcome']> {
  if (failure.failure === 'aborted') return 'client_aborted';
  return failure.failure === 'timeout' ? 'upstream_timeout' : 'upstream_unreachable';
}

function metering(model: string | null, stream: boolean, state: { outcome: UsageRecord['outcome']; status: number }, meter: OllamaMeter | undefined): Metering {
  return {
    model,
    stream,
    status: state.status,
    outcome: state.outcome ?? 'ok',
    promptTokens: meter?.promptTokens,
    completionTokens: meter?.completionTokens,
    generated: meter?.generated ?? '',
    producedOutput: (meter?.chunks ?? 0) > 0 || meter?.done === true,
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
