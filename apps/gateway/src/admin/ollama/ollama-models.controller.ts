import { Controller, Get } from '@nestjs/common';
import type { TagEntry } from '@llmproxy/ollama';
import { UpstreamPool } from '@llmproxy/upstreams';
import { OllamaProbe } from './ollama-probe.js';

/** The models the Ollama servers have (merged, asked fresh), for the UI's pickers (default model, allow-lists). */
@Controller('api/ollama-models')
export class OllamaModelsController {
  constructor(
    private readonly pool: UpstreamPool,
    private readonly ollama: OllamaProbe,
  ) {}

  @Get()
  async list(): Promise<{ models: TagEntry[] }> {
    return { models: await this.ollama.modelsOf(this.pool.enabled().map((upstream) => upstream.url)) };
  }
}
