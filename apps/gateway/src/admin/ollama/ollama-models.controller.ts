import { Controller, Get } from '@nestjs/common';
import type { TagEntry } from '@llmproxy/ollama';
import { SettingsService } from '@llmproxy/settings';
import { OllamaProbe } from './ollama-probe.js';

/** The models Ollama has, for the UI's pickers (default model, allow-lists). */
@Controller('api/ollama-models')
export class OllamaModelsController {
  constructor(
    private readonly settings: SettingsService,
    private readonly ollama: OllamaProbe,
  ) {}

  @Get()
  async list(): Promise<{ models: TagEntry[] }> {
    const { ollamaUrl } = await this.settings.get();
    return { models: await this.ollama.models(ollamaUrl) };
  }
}
