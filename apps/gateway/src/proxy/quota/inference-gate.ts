import { ForbiddenException, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { dialectForPath } from '@llmproxy/dialects';
import { PromptSize } from '@llmproxy/metering';
import { enforceRequestPolicy, isCloudModel, requestedCompletionLimit, setCompletionLimit } from '@llmproxy/ollama';
import { QuotaService } from '@llmproxy/quota';
import { SettingsService, type Settings } from '@llmproxy/settings';
import { GatewayMetrics } from '../../core/metrics.js';
import type { ProxyRequest } from '../proxy-request.js';

/**
 * The last step before an inference request leaves for Ollama, the same for every dialect: the
 * forwarder calls it with the Ollama request body the dialect built (or the native body as sent),
 * after the dialect validated it, resolved the model and checked the key's allow-list — so a request
 * the gateway refuses never reaches admission and costs the key nothing (DESIGN.md §9).
 *
 * In order: cloud models are refused unless allowed; the request policy rewrites what would hurt
 * other users of the server (keep_alive, load options, num_ctx); the quota admits and reserves
 * (429 with Retry-After otherwise); and on a key with a token limit the completion limit Ollama gets
 * is the admission's cap — always an integer ≥ 1, whatever num_predict, max_tokens or
 * max_completion_tokens the client sent (Ollama reads 0, negatives and fractions as "no limit").
 */
@Injectable()
export class InferenceGate {
  constructor(
    private readonly quota: QuotaService,
    private readonly settings: SettingsService,
    private readonly metrics: GatewayMetrics,
  ) {}

  async admit(request: ProxyRequest, response: Response, ollamaBody: Record<string, unknown>): Promise<void> {
    const route = request.inference;
    if (!route) return;
    const settings = await this.settings.get();
    const model = typeof ollamaBody.model === 'string' ? ollamaBody.model : '';
    if (!settings.allowCloudModels && isCloudModel(model)) {
      throw new ForbiddenException(
        `model '${model}' is an Ollama cloud model (it runs on ollama.com with the server owner's account); this gateway does not allow cloud models`,
      );
    }
    enforceRequestPolicy(ollamaBody, requestPolicy(settings));

    const key = request.apiKey!;
    const dialect = dialectForPath(request.path);
    const limitsTokens = key.limits.dailyTokens !== null || key.limits.monthlyTokens !== null;
    // The prompt counts only when tokens are limited (otherwise it is estimated only if Ollama omits
    // its count). Admission gets a cheap bound and computes the tiktoken estimate only when the key
    // has too little left for the bound to stand in for it (decideWithBound, libs/quota).
    const prompt = limitsTokens ? new PromptSize(request.json ?? ollamaBody) : undefined;
    let admission;
    try {
      admission = await this.quota.admit({
        key,
        promptEstimate: prompt ?? 0,
        requestedMaxTokens: route.generates ? requestedCompletionLimit(ollamaBody) : null,
        generates: route.generates,
        anthropicHeaders: dialect === 'anthropic',
      });
    } catch (error) {
      throw new HttpException('the gateway cannot reach its quota database; try again shortly', HttpStatus.SERVICE_UNAVAILABLE, { cause: error });
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
    request.quota = { reservation: admission.reservation };
    // The estimate if admission computed it; the bound is no estimate (callers estimate on demand).
    request.promptEstimate = prompt?.computed;
    const cap = admission.reservation.completionCap;
    if (cap !== null) setCompletionLimit(ollamaBody, cap);
  }
}

function requestPolicy(settings: Settings) {
  return {
    keepAliveMinSeconds: settings.keepAliveMinSeconds,
    keepAliveMaxSeconds: settings.keepAliveMaxSeconds,
    maxNumCtx: settings.maxNumCtx ?? settings.numCtx,
    allowLoadOptions: settings.allowLoadOptions,
  };
}
