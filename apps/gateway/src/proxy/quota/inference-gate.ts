import { ForbiddenException, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { contextTooLong, dialectForPath, outputRoom, type Dialect } from '@llmproxy/dialects';
import { PromptSize } from '@llmproxy/metering';
import { enforceRequestPolicy, isCloudModel, numPredictOf, setCompletionLimit } from '@llmproxy/ollama';
import { namedCompletionLimit, QuotaService, type PromptTokens } from '@llmproxy/quota';
import { SettingsService, type Settings } from '@llmproxy/settings';
import { GatewayMetrics } from '../../core/metrics.js';
import { ModelResolver } from '../models/model-resolver.js';
import type { ProxyRequest } from '../proxy-request.js';

/**
 * The last step before an inference request leaves for Ollama, the same for every dialect: the
 * forwarder calls it with the Ollama request body the dialect built (or the native body as sent),
 * after the dialect validated it, resolved the model and checked the key's allow-list — so a request
 * the gateway refuses never reaches admission and costs the key nothing (DESIGN.md §9).
 *
 * In order: cloud models are refused unless allowed; the request policy rewrites what would hurt
 * other users of the server (keep_alive, load options, num_ctx); a translated request that does not
 * fit the model's context window is refused in its dialect's "too long" form (Ollama would silently
 * drop the oldest messages; coding agents compact on the error instead); the quota admits and reserves
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
    private readonly models: ModelResolver,
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
    // A dialect that needed the estimate before (Anthropic's message_start) left it on the request.
    const checksWindow = route.generates && dialect !== 'ollama';
    const known = request.promptEstimate;
    const size = known === undefined && (limitsTokens || checksWindow) ? new PromptSize(request.json ?? ollamaBody) : undefined;
    const estimate: PromptTokens | number | undefined = known ?? size;
    if (checksWindow) await this.checkContextWindow(request, dialect, ollamaBody, model, estimate!);
    const prompt = limitsTokens ? estimate : undefined;
    let admission;
    try {
      admission = await this.quota.admit({
        key,
        promptEstimate: prompt ?? 0,
        requestedMaxTokens: route.generates ? numPredictOf(ollamaBody) : null,
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
    // The estimate if admission or the window check computed it; the bound is no estimate (callers estimate on demand).
    request.promptEstimate = known ?? size?.computed;
    const cap = admission.reservation.completionCap;
    if (cap !== null) setCompletionLimit(ollamaBody, cap);
  }

  /**
   * The window is the request's num_ctx, capped by the model's own context length (/api/show); the
   * prompt estimate plus the output room the client asked for (at most a quarter of the window,
   * `outputRoom`) must fit. The tiktoken estimate is computed only when the cheap bound does not fit.
   * Native requests are left alone: their clients choose num_ctx themselves.
   */
  private async checkContextWindow(
    request: ProxyRequest,
    dialect: Dialect,
    ollamaBody: Record<string, unknown>,
    model: string,
    prompt: PromptTokens | number,
  ): Promise<void> {
    const numCtx = (ollamaBody.options as { num_ctx?: unknown } | undefined)?.num_ctx;
    if (typeof numCtx !== 'number') return;
    const window = await this.models.windowFor(model, numCtx);
    const room = outputRoom(namedCompletionLimit(numPredictOf(ollamaBody)), window);
    if ((typeof prompt === 'number' ? prompt : prompt.bound) + room <= window) return;
    const needed = (typeof prompt === 'number' ? prompt : prompt.exact()) + room;
    if (needed > window) throw contextTooLong(dialect, needed, window, request.path === '/v1/responses' ? 'input' : 'messages');
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
