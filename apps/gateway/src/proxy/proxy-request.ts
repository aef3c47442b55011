import type { Request } from 'express';
import type { ApiKeyRecord } from '@llmproxy/keys';

/** An Express request as it moves through the proxy's guard, interceptors and controllers. */
export interface ProxyRequest extends Request {
  /** Set by ApiKeyGuard on every non-public route. */
  apiKey?: ApiKeyRecord;
  /** The parsed JSON body, set by JsonBodyInterceptor (the proxy reads bodies only after auth). */
  json?: Record<string, unknown>;
  requestId: string;
  startedAt: number;
}
