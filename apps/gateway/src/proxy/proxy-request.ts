import type { Request } from 'express';
import type { ApiKeyRecord } from '@llmproxy/keys';
import type { UsageRecord } from '@llmproxy/metering';
import type { Reservation } from '@llmproxy/quota';

/** What the forwarder saw of Ollama's answer; the quota interceptor settles and logs from it. */
export interface Metering {
  model: string | null;
  stream: boolean;
  status: number;
  outcome: NonNullable<UsageRecord['outcome']>;
  /** Ollama's own counts from the final chunk, when it sent them. */
  promptTokens?: number;
  completionTokens?: number;
  /** Text generated so far (content and thinking), for an estimate when the counts are missing. */
  generated: string;
  /** Whether Ollama produced any output at all: a request that got nothing costs no tokens. */
  producedOutput: boolean;
}

/** An Express request as it moves through the proxy's guard, interceptors and controllers. */
export interface ProxyRequest extends Request {
  /** Set by ApiKeyGuard on every non-public route. */
  apiKey?: ApiKeyRecord;
  /** The parsed JSON body, set by JsonBodyInterceptor (the proxy reads bodies only after auth). */
  json?: Record<string, unknown>;
  /** Set by QuotaInterceptor on inference routes. */
  quota?: { reservation: Reservation };
  /** The prompt estimate once computed (by admission or by `promptEstimate()`); never computed twice. */
  promptEstimate?: number;
  /** Set by the forwarder on inference routes. */
  metering?: Metering;
  requestId: string;
  startedAt: number;
}
