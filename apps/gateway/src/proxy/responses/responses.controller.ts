import { Controller, Post, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { responses } from '@llmproxy/dialects';
import { ReadsJsonBody } from '../body/json-body.decorator.js';
import { UpstreamForwarder } from '../forwarding/upstream-forwarder.js';
import { ModelResolver } from '../models/model-resolver.js';
import { requestedModel } from '../openai/openai-exchanges.js';
import type { ProxyRequest } from '../proxy-request.js';
import { Inference } from '../quota/inference.decorator.js';
import { responsesExchange } from './responses-exchange.js';

/** Tells the client which of its tools the model was not shown (hosted tools such as web_search). */
export const DROPPED_TOOLS_HEADER = 'x-llmproxy-dropped-tools';

/**
 * OpenAI's Responses API on the proxy port, for Codex CLI and the openai SDK: translated to Ollama's
 * /api/chat like chat completions, so the completion cap, num_ctx, think and the request policy stay
 * the gateway's, and admitted through the forwarder's InferenceGate like every dialect. Stateless:
 * previous_response_id, conversation and store: true are refused (the translator says why). Errors
 * are OpenAI's shape (the exception filter maps /v1/ paths to 'openai').
 */
@Controller('v1')
export class ResponsesController {
  constructor(
    private readonly forwarder: UpstreamForwarder,
    private readonly resolver: ModelResolver,
  ) {}

  @Post('responses')
  @ReadsJsonBody()
  @Inference({ generates: true })
  async create(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    const body = request.json!;
    const resolved = await this.resolver.resolveAllowed(request.apiKey!, requestedModel(body), 'openai');
    const translated = responses.translateResponsesRequest(body, {
      model: resolved.model,
      numCtx: resolved.settings.numCtx,
      thinkingCapable: resolved.thinkingCapable,
    });
    if (translated.droppedTools.length > 0) {
      // Tool types are client strings: only header-safe characters go out.
      response.setHeader(DROPPED_TOOLS_HEADER, translated.droppedTools.map((type) => type.replace(/[^\w.-]/g, '_')).join(', '));
    }
    // Reverse proxies (nginx) must not buffer the event stream.
    if (translated.stream) response.setHeader('x-accel-buffering', 'no');
    await this.forwarder.translate(request, response, responsesExchange(request, translated, resolved.model));
  }
}
