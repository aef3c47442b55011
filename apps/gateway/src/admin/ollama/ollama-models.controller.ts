import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { TagEntry } from '@llmproxy/ollama';
import { UpstreamPool } from '@llmproxy/upstreams';
import { ApiErrors } from '../../common/openapi/error-body.js';
import { OllamaModelsResponseSchema } from './ollama-models.schema.js';
import { OllamaProbe } from './ollama-probe.js';

/** The models the Ollama servers have (merged, asked fresh), for the UI's pickers (default model, allow-lists). */
@ApiTags('settings')
@Controller('api/ollama-models')
export class OllamaModelsController {
  constructor(
    private readonly pool: UpstreamPool,
    private readonly ollama: OllamaProbe,
  ) {}

  @Get()
  @ApiOkResponse({ type: OllamaModelsResponseSchema })
  @ApiErrors(502)
  async list(): Promise<{ models: TagEntry[] }> {
    return { models: await this.ollama.modelsOf(this.pool.enabled().map((upstream) => upstream.url)) };
  }
}
