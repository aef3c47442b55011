import { All, Controller, ForbiddenException, Get, Head, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Public } from '../../common/public.decorator.js';
import { ReadsJsonBody } from '../body/json-body.decorator.js';
import { Inference } from '../quota/inference.decorator.js';
import { UpstreamPool } from '@llmproxy/upstreams';
import { UpstreamDispatch } from '../forwarding/upstream-dispatch.js';
import { UpstreamForwarder } from '../forwarding/upstream-forwarder.js';
import type { ProxyRequest } from '../proxy-request.js';
import { canonicalModelName } from '@llmproxy/dialects';
import { modelAllowed, requireModel } from './model-access.js';

/**
 * Ollama's native API, authenticated. Inference goes through the scheduler to an upstream that has
 * the model; the catalogue (/api/tags, /api/ps) is merged over the upstreams; model management (pull, push, create, copy, delete, blobs) never reaches Ollama through the gateway.
 */
@Controller()
export class OllamaNativeController {
  constructor(
    private readonly forwarder: UpstreamForwarder,
    private readonly dispatch: UpstreamDispatch,
    private readonly pool: UpstreamPool,
  ) {}

  /** Ollama's banner: clients probe it to see whether a server is there. */
  @Public()
  @Get()
  root(@Res() response: Response): void {
    response.type('text/plain').send('Ollama is running');
  }

  /** Claude Code's reachability probe, sent without credentials. */
  @Public()
  @Head('api/hello')
  @HttpCode(200)
  hello(): void {}

  @Get(['api/version', 'api/versions'])
  version(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    return this.forwarder.forward(request, response, { method: request.method === 'HEAD' ? 'HEAD' : 'GET', path: '/api/version' });
  }

  /** The models of every upstream, merged (as each one's last poll saw them); a key limited to some models sees only those. */
  @Get('api/tags')
  async tags(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    const key = request.apiKey!;
    const models = (await this.pool.models()).filter((m) => modelAllowed(key, m.name || m.model || ''));
    response.status(200).setHeader('x-request-id', request.requestId).json({ models });
  }

  /** The models loaded on every upstream, asked of each now and merged; each entry names its upstream. */
  @Get('api/ps')
  async ps(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    const key = request.apiKey!;
    const upstreams = this.pool.enabled();
    const answers = await Promise.allSettled(upstreams.map((upstream) => this.dispatch.loaded(upstream)));
    if (answers.length > 0 && answers.every((a) => a.status === 'rejected')) throw (answers[0] as PromiseRejectedResult).reason;
    const models = answers.flatMap((answer) => (answer.status === 'fulfilled' ? answer.value : [])).filter((m) => modelAllowed(key, String(m.name ?? m.model ?? '')));
    response.status(200).setHeader('x-request-id', request.requestId).json({ models });
  }

  @Post('api/show')
  @ReadsJsonBody()
  show(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    const body = request.json!;
    const model = requireModel(request.apiKey!, body);
    return this.forwarder.forward(request, response, { method: 'POST', path: '/api/show', body, model });
  }

  @Post(['api/chat', 'api/generate'])
  @ReadsJsonBody()
  @Inference({ generates: true })
  generate(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    return this.infer(request, response, request.json!.stream !== false);
  }

  @Post(['api/embed', 'api/embeddings'])
  @ReadsJsonBody()
  @Inference({ generates: false })
  embed(@Req() request: ProxyRequest, @Res() response: Response): Promise<void> {
    return this.infer(request, response, false);
  }

  @All(['api/pull', 'api/push', 'api/create', 'api/copy', 'api/delete', 'api/blobs/*digest'])
  modelManagement(): never {
    throw new ForbiddenException('model management (pull, push, create, copy, delete, blobs) is disabled on this gateway');
  }

  /** Ollama's hosted web search and fetch run on ollama.com with the server owner's account. */
  @All(['api/web_search', 'api/web_fetch'])
  hostedSearch(): never {
    throw new ForbiddenException("Ollama's hosted web search (web_search, web_fetch) runs on ollama.com with the server owner's account and is disabled on this gateway");
  }

  /**
   * Inference passes through as sent, metered; the forwarder's InferenceGate applies the request
   * policy and the quota's completion cap to the body first, as for every dialect.
   */
  private infer(request: ProxyRequest, response: Response, stream: boolean): Promise<void> {
    const body = request.json!;
    const model = requireModel(request.apiKey!, body);
    return this.forwarder.forward(request, response, {
      method: 'POST',
      path: request.path,
      body,
      meter: { model: canonicalModelName(model), stream },
    });
  }
}
