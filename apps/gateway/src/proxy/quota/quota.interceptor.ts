import {
  type CallHandler,
  type ExecutionContext,
  HttpException,
  HttpStatus,
  Injectable,
  type NestInterceptor,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { finalize } from 'rxjs';
import { dialectForPath } from '@llmproxy/dialects';
import { PromptSize } from '@llmproxy/metering';
import { QuotaService } from '@llmproxy/quota';
import { GatewayMetrics } from '../../core/metrics.js';
import type { ProxyRequest } from '../proxy-request.js';
import { INFERENCE, type InferenceRoute } from './inference.decorator.js';
import { requestedMaxTokens } from './requested-max-tokens.js';
import { UsageSettler } from './usage-settler.js';

/**
 * Admission before a request reaches Ollama, settlement after, exactly once (DESIGN.md §2, §4).
 * Reserves in the database (refusing with 429 and Retry-After), caps a native request's
 * num_predict (the translating controllers apply `request.quota` to what they build), sets the
 * rate-limit headers, and settles with what the forwarder metered when the handler is done —
 * whether it finished, failed or the client went away. A database that cannot be reached refuses
 * the request (503): quotas fail closed.
 */
@Injectable()
export class QuotaInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly quota: QuotaService,
    private readonly settler: UsageSettler,
    private readonly metrics: GatewayMetrics,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler) {
    const route = this.reflector.get<InferenceRoute | undefined>(INFERENCE, context.getHandler());
    if (!route) return next.handle();
    const request = context.switchToHttp().getRequest<ProxyRequest>();
    const response = context.switchToHttp().getResponse<Response>();
    const key = request.apiKey!;
    const body = request.json ?? {};
    const dialect = dialectForPath(request.path);
    const limitsTokens = key.limits.dailyTokens !== null || key.limits.monthlyTokens !== null;
    // The prompt counts only when tokens are limited (otherwise it is estimated only if Ollama omits
    // its count). Admission gets a cheap bound and computes the tiktoken estimate only when the key
    // has too little left for the bound to stand in for it (decideWithBound, libs/quota).
    const prompt = limitsTokens ? new PromptSize(body) : undefined;

    let admission;
    try {
      admission = await this.quota.admit({
        key,
        promptEstimate: prompt ?? 0,
        requestedMaxTokens: requestedMaxTokens(dialect, body),
        generates: route.generates,
        anthropicHeaders: dialect === 'anthropic',
      });
    } catch (error) {
      throw new ServiceUnavailableException('the gateway cannot reach its quota database; try again shortly', { cause: error });
    }
    if (!admission.admitted) {
      this.metrics.quotaRefused(admission.kind);
      response.setHeader('retry-after', String(admission.retryAfterSeconds));
      // The official OpenAI and Anthropic SDKs honour Retry-After before retrying: on an exhausted
      // window they would sleep until it resets (hours). x-should-retry: false makes them fail now.
      response.setHeader('x-should-retry', admission.retryable ? 'true' : 'false');
      throw new HttpException(admission.message, HttpStatus.TOO_MANY_REQUESTS);
    }
    for (const [name, value] of Object.entries(admission.headers)) response.setHeader(name, value);
    // The estimate if admission computed it; the bound is no estimate (callers estimate on demand).
    request.quota = { reservation: admission.reservation };
    request.promptEstimate = prompt?.computed;
    const cap = admission.reservation.completionCap;
    if (dialect === 'ollama' && cap !== null) {
      body.options = { ...((body.options as Record<string, unknown> | undefined) ?? {}), num_predict: cap };
    }
    return next.handle().pipe(finalize(() => this.settler.settle(request, dialect)));
  }
}
