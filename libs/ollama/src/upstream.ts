import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Agent, errors } from 'undici';

export type UpstreamFailure = 'unreachable' | 'timeout' | 'aborted' | 'broken';

/** Ollama could not be reached or stopped answering; the proxy maps it to 502/504 in the caller's dialect. */
export class UpstreamError extends Error {
  constructor(
    readonly failure: UpstreamFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }

  get status(): number {
    return this.failure === 'timeout' ? 504 : 502;
  }
}

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'HEAD' | 'DELETE';
  path: string;
  body?: string;
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

export interface UpstreamTimeouts {
  /** Connecting: a closed or unroutable Ollama answers 502 within this. */
  connectMs: number;
  /** Until the response headers (Ollama sends them with the first chunk). */
  firstByteMs: number;
  /** Silence tolerated between two chunks of a body. */
  idleMs: number;
}

/**
 * The data plane's HTTP client to Ollama: undici with pooled keep-alive connections (axios halves
 * streaming throughput on this path; it serves the control plane instead). Bodies are returned as
 * streams, never buffered here.
 */
export class OllamaUpstream {
  private readonly agent: Agent;

  constructor(private readonly timeouts: UpstreamTimeouts) {
    this.agent = new Agent({
      connect: { timeout: timeouts.connectMs },
      headersTimeout: timeouts.firstByteMs,
      bodyTimeout: timeouts.idleMs,
      keepAliveTimeout: 30_000,
      // No cap of the gateway's own: Ollama queues what exceeds OLLAMA_NUM_PARALLEL itself, and a
      // cap here would hold streams back before their first byte (measured: 488 of 1,000 waited 30 s).
      connections: null,
    });
  }

  async send(baseUrl: string, request: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      const response = await this.agent.request({
        origin: baseUrl,
        path: request.path,
        method: request.method,
        body: request.body,
        headers: request.body === undefined ? { accept: '*/*' } : { 'content-type': 'application/json', accept: '*/*' },
        signal: request.signal,
      });
      return { status: response.statusCode, headers: response.headers as IncomingHttpHeaders, body: response.body };
    } catch (error) {
      throw toUpstreamError(error, baseUrl);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** A whole (small) body as text: an error answer, a catalogue answer. */
export async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Ollama's URL as an error may name it to a client: scheme, host, port and path, without user,
 * password, query or fragment (an OLLAMA_URL may carry credentials in any of them). An unparsable
 * URL is not repeated at all.
 */
export function publicUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname === '/' ? parsed.origin : `${parsed.origin}${parsed.pathname}`;
  } catch {
    return 'the configured URL';
  }
}

/** Maps undici's and the socket's errors to what the client should be told. */
export function toUpstreamError(error: unknown, configuredUrl: string): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const baseUrl = publicUrl(configuredUrl);
  if (error instanceof errors.RequestAbortedError || (error as Error)?.name === 'AbortError') {
    return new UpstreamError('aborted', 'request aborted by the client', { cause: error });
  }
  if (error instanceof errors.HeadersTimeoutError || error instanceof errors.BodyTimeoutError) {
    return new UpstreamError('timeout', `Ollama at ${baseUrl} did not answer in time`, { cause: error });
  }
  if (error instanceof errors.ConnectTimeoutError) {
    return new UpstreamError('unreachable', `Ollama at ${baseUrl} is unreachable (connect timeout)`, { cause: error });
  }
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') {
    return new UpstreamError('unreachable', `Ollama at ${baseUrl} is unreachable (${code})`, { cause: error });
  }
  return new UpstreamError('broken', `Ollama at ${baseUrl} closed the connection unexpectedly`, { cause: error });
}
