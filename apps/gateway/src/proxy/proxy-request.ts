import type { Request } from 'express';
import type { ApiKeyRecord } from '@llmproxy/keys';
import type { UsageRecord } from '@llmproxy/metering';
import type { Reservation } from '@llmproxy/quota';
import type { InferenceRoute } from './quota/inference.decorator.js';

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
  /** Whether Ollama produced any output at all. */
  producedOutput: boolean;
  /**
   * Whether Ollama may have evaluated the prompt: the request reached it and it did not refuse it
   * with an error status (4xx, 5xx) instead of an answer. Such a request is charged at least its
   * prompt, even if it produced nothing (a client that aborts just before the first token still cost
   * the server the prompt's evaluation).
   */
  evaluated: boolean;
  /** The upstream (its name) that answered, when one did. */
  upstream?: string;
}

/** An Express request as it moves through the proxy's guard, interceptors and controllers. */
export interface ProxyRequest extends Request {
  /** Set by ApiKeyGuard on every non-public route. */
  apiKey?: ApiKeyRecord;
  /** The parsed JSON body, set by JsonBodyInterceptor (the proxy reads bodies only after auth). */
  json?: Record<string, unknown>;
  /** Set by QuotaInterceptor on inference routes: the forwarder admits these through the InferenceGate. */
  inference?: InferenceRoute;
  /** Set by the InferenceGate once the quota admitted the request. */
  quota?: { reservation: Reservation };
  /** The status of an error that ended an inference request before the forwarder metered anything. */
  refusedStatus?: number;
  /** The prompt estimate once computed (by admission or by `promptEstimate()`); never computed twice. */
  promptEstimate?: number;
  /** Set by the forwarder on inference routes. */
  metering?: Metering;
  requestId: string;
  startedAt: number;
}
