import { Controller, Get, Param, Post, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { anthropic, openai } from '@llmproxy/dialects';
import type { ApiKeyRecord } from '@llmproxy/keys';
import type { TagEntry } from '@llmproxy/ollama';
import { SettingsService } from '@llmproxy/settings';
import { ReadsJsonBody } from '../body/json-body.decorator.js';
import { UpstreamForwarder } from '../forwarding/upstream-forwarder.js';
import { ModelResolver } from '../models/model-resolver.js';
import { modelAllowed } from '../native/model-access.js';
import { Inference } from '../quota/inference.decorator.js';
import type { ProxyRequest } from '../proxy-request.js';
import { chatExchange, embeddingsExchange, requestedModel } from './openai-exchanges.js';

/**
 * OpenAI's API on the proxy port (DESIGN.md §5): chat completions and embeddings translated to
 * Ollama's /api/chat and /api/embed, the model list from /api/tags. Errors are OpenAI's shape (the
 * exception filter maps by path; translators throw DialectError with the `param` at fault).
 *
 * GET /v1/models is shared with Anthropic's API: Claude Code's gateway model discovery calls it with
 * an `anthropic-version` header and expects Anthropic's list shape, so that header picks the shape.
 */
@Controller('v1')
export class OpenAiController {
  constructor(
    private readonly forwarder: UpstreamForwarder,
    private readonly resolver: ModelResolver,
    private readonly settings: SettingsService,
  ) {}

  @Post('chat/completions')
  @ReadsJsonBody()
  @Inference({ generates: true })
  async chatCompletions(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    const body = request.json!;
    const resolved = await this.resolver.resolveAllowed(request.apiKey!, requestedModel(body), 'openai');
    const translated = openai.translateChatRequest(body, {
      model: resolved.model,
      numCtx: resolved.settings.numCtx,
      thinkingCapable: resolved.thinkingCapable,
    });
    await this.forwarder.translate(request, response, chatExchange(request, translated, resolved.model));
  }

  @Post('embeddings')
  @ReadsJsonBody()
  @Inference({ generates: false })
  async embeddings(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    const body = request.json!;
    const resolved = await this.resolver.resolveAllowed(request.apiKey!, requestedModel(body), 'openai');
    const translated = openai.translateEmbeddingsRequest(body, { model: resolved.model });
    await this.forwarder.translate(request, response, embeddingsExchange(request, translated, resolved.model));
  }

  @Get('models')
  async models(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    const key = request.apiKey!;
    const { tags, aliases } = await this.visibleCatalogue(key);
    response
      .status(200)
      .setHeader('x-request-id', request.requestId)
      .json(wantsAnthropic(request) ? anthropic.toAnthropicModelList(tags, aliases) : openai.toModelList({ models: tags }));
  }

  /**
   * One model, by the name a client would send: resolved like a chat request (Ollama name, alias,
   * or the default model for the dialect's vendor names; 404 and 403 as there), so a launcher can ask
   * what `claude-sonnet-4-6` or `gpt-5` would get. Beside the vendor's fields it carries
   * `context_window`: the tokens the served model runs with here (num_ctx, capped by the model's own
   * context length) — what start_claude.sh and start_codex.sh tell the agents.
   * Model names hold `:` and `/` (`llama3.2:latest`, `user/model:tag`): every segment after /v1/models/ is the name.
   */
  @Get('models/*model')
  async model(@Req() request: ProxyRequest, @Res() response: Response, @Param('model') segments: string | string[]): Promise<void> {
    const name = Array.isArray(segments) ? segments.join('/') : segments;
    const anthropicShape = wantsAnthropic(request);
    const resolved = await this.resolver.resolveAllowed(request.apiKey!, name, anthropicShape ? 'anthropic' : 'openai');
    const contextWindow = await this.resolver.contextWindow(resolved);
    const tag = (await this.resolver.models()).find((t) => t.name === resolved.model) ?? { name: resolved.model };
    // The id is the name the client asked for, as OpenAI's and Ollama's own /v1 layer answer.
    const body = anthropicShape
      ? { ...anthropic.toAnthropicModelList([tag]).data[0], id: name, display_name: name, context_window: contextWindow }
      : { ...openai.toModel(tag), id: name, context_window: contextWindow };
    response.status(200).setHeader('x-request-id', request.requestId).json(body);
  }

  /** Ollama's models (and, for Anthropic's list, the alias names) this key may use. Not metered. */
  private async visibleCatalogue(key: ApiKeyRecord): Promise<{ tags: TagEntry[]; aliases: Record<string, string> }> {
    const settings = await this.settings.get();
    const tags = await this.resolver.models();
    const visible = tags.filter((tag) => modelAllowed(key, tag.name));
    // An alias is usable only where its target is (the allow-list is checked against the model served).
    const aliases = Object.fromEntries(Object.entries(settings.modelAliases).filter(([, target]) => modelAllowed(key, target)));
    return { tags: visible, aliases };
  }
}

function wantsAnthropic(request: ProxyRequest): boolean {
  return request.headers['anthropic-version'] !== undefined;
}
