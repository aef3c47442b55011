import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { anthropic, DialectError, errorBody } from '@llmproxy/dialects';
import { countTokens, type OllamaMeter } from '@llmproxy/metering';
import { ReadsJsonBody } from '../body/json-body.decorator.js';
import { UpstreamForwarder } from '../forwarding/upstream-forwarder.js';
import { ModelResolver } from '../models/model-resolver.js';
import type { ProxyRequest } from '../proxy-request.js';
import { chargedTokens, promptEstimate } from '../quota/charged-tokens.js';
import { Inference } from '../quota/inference.decorator.js';

/**
 * How long Ollama may take to answer with headers before the SSE response starts anyway with
 * `message_start`: an error before then is a proper HTTP error, after it an in-band `error` event.
 */
export const STREAM_START_AFTER_MS = 1_000;
/**
 * A `ping` this often while Ollama is still silent (reading a long prompt). Claude Code gives up on a
 * stream that shows no event for ~15 s; three pings fit in that window.
 */
export const STREAM_PING_EVERY_MS = 5_000;

/**
 * Anthropic's Messages API on the proxy port, for Claude Code and Anthropic SDK clients: the request is
 * translated to Ollama's `/api/chat` (always streamed from Ollama) and Ollama's chunks become
 * Anthropic's SSE events, or one message for a non-streaming client. `?beta=true` (Claude Code, the
 * SDK's `client.beta.messages`) reaches the same handlers: the query is not part of the route.
 */
@Controller()
export class AnthropicController {
  constructor(
    private readonly forwarder: UpstreamForwarder,
    private readonly resolver: ModelResolver,
  ) {}

  @Post('v1/messages')
  @ReadsJsonBody()
  @Inference({ generates: true })
  async messages(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    const body = request.json!;
    setRequestIdHeaders(request, response);
    const requested = typeof body.model === 'string' ? body.model.trim() : '';
    if (requested === '') throw new DialectError(400, 'model: Field required (a model name)', 'model');

    const resolved = await this.resolver.resolveAllowed(request.apiKey!, requested, 'anthropic');
    const translated = anthropic.translateMessagesRequest(body, {
      model: resolved.model,
      numCtx: resolved.settings.numCtx,
      thinkingCapable: resolved.thinkingCapable,
    });
    // Ollama is always streamed from, whatever the client asked: chunks are translated (or
    // aggregated) as they arrive, and a cut stream still leaves what was generated to meter.
    const ollamaRequest = { ...translated.request, stream: true };

    const id = anthropic.newMessageId();
    const usage = (meter: OllamaMeter) => {
      const charged = chargedTokens(request, meter);
      return { input_tokens: charged.prompt, output_tokens: charged.completion };
    };

    const exchange = {
      path: '/api/chat' as const,
      body: ollamaRequest,
      model: resolved.model,
      errorBody: (status: number, message: string) => errorBody('anthropic', status, message, { requestId: request.requestId }),
    };

    if (translated.stream) {
      const stream = new anthropic.AnthropicStreamTranslator({
        id,
        requestedModel: translated.requestedModel,
        inputTokensEstimate: promptEstimate(request),
      });
      // Reverse proxies (nginx) must not buffer the event stream.
      response.setHeader('x-accel-buffering', 'no');
      await this.forwarder.translate(request, response, {
        ...exchange,
        sse: {
          start: () => stream.start(),
          ping: () => stream.ping(),
          chunk: (chunk) => stream.push(chunk),
          end: (meter) => stream.end(usage(meter)),
          // Claude Code retries an overloaded_error (the gateway's queue waited too long), as it retries a 529.
          error: (message, status) => stream.error(status === 529 ? 'overloaded_error' : 'api_error', message),
          startAfterMs: STREAM_START_AFTER_MS,
          pingEveryMs: STREAM_PING_EVERY_MS,
        },
      });
      return;
    }

    const aggregate = new anthropic.OllamaAggregator();
    await this.forwarder.translate(request, response, {
      ...exchange,
      json: {
        chunk: (chunk) => aggregate.push(chunk),
        end: (meter) => anthropic.toMessage(aggregate, { id, requestedModel: translated.requestedModel, usage: usage(meter) }),
      },
    });
  }

  /**
   * Token count of a prompt, for Claude Code's `/context` (which sends dozens at once): tiktoken
   * (cl100k_base) over the system parts, messages and tool definitions — an estimate, since the
   * model's own tokenizer and chat template differ. No call to Ollama, no quota charge, not counted
   * as a request, not subject to any concurrency limit; the key must still be valid.
   */
  @Post('v1/messages/count_tokens')
  @HttpCode(200)
  @ReadsJsonBody()
  countTokens(@Req() request: ProxyRequest, @Res({ passthrough: true }) response: Response): { input_tokens: number } {
    const body = request.json!;
    setRequestIdHeaders(request, response);
    if (!Array.isArray(body.messages)) throw new DialectError(400, 'messages: Field required (an array of messages)', 'messages');
    return { input_tokens: countTokens(anthropic.countTokensInput(body).join('\n')) };
  }

  /**
   * Claude Code's telemetry batches (sent unless CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1): accepted
   * with 200 `{}` and dropped, never forwarded. Authenticated like every proxy route; the body is not read.
   */
  @Post('api/event_logging/batch')
  @HttpCode(200)
  eventLogging(): Record<string, never> {
    return {};
  }
}

function setRequestIdHeaders(request: ProxyRequest, response: Response): void {
  response.setHeader('request-id', request.requestId);
  response.setHeader('x-request-id', request.requestId);
}
