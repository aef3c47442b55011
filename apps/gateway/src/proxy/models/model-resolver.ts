import { Injectable } from '@nestjs/common';
import { anthropic } from '@llmproxy/dialects';
import { ModelCatalogue } from '@llmproxy/ollama';
import { SettingsService, type Settings } from '@llmproxy/settings';

export interface ResolvedModel {
  /** The Ollama model the request goes to. */
  model: string;
  capabilities: string[];
  thinkingCapable: boolean;
  settings: Settings;
}

/**
 * Model names of the translating dialects: the name itself if Ollama has it, else the first alias
 * from the settings whose pattern matches (`claude-*haiku*` → `qwen3:4b`), else the default model
 * (setting, then ANTHROPIC_DEFAULT_MODEL); null when none applies (the controller answers 404).
 */
@Injectable()
export class ModelResolver {
  readonly catalogue = new ModelCatalogue();

  constructor(private readonly settings: SettingsService) {}

  async resolve(requested: string): Promise<ResolvedModel | null> {
    const settings = await this.settings.get();
    const models = await this.catalogue.models(settings.ollamaUrl);
    const model = anthropic.resolveModelName(
      requested,
      models.map((m) => m.name),
      settings.modelAliases,
      settings.defaultModel,
    );
    if (model === null) return null;
    const capabilities = await this.catalogue.modelCapabilities(settings.ollamaUrl, model).catch((): string[] => []);
    return { model, capabilities, thinkingCapable: capabilities.includes('thinking'), settings };
  }
}
