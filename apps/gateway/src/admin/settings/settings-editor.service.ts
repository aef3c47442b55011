import type { Settings as SettingsView } from '@llmproxy/api-types';
import { BadRequestException, Injectable } from '@nestjs/common';
import { SettingsService, type Settings } from '@llmproxy/settings';
import { OllamaProbe, type OllamaStatus } from '../ollama/ollama-probe.js';

/** Settings as the admin API shows them. */
export type { SettingsView };

export interface SettingsChange {
  ollamaUrl?: string;
  defaultModel?: string | null;
  modelAliases?: Record<string, string>;
  numCtx?: number;
  keepAliveMinSeconds?: number;
  keepAliveMaxSeconds?: number;
  maxNumCtx?: number | null;
  allowLoadOptions?: boolean;
  allowCloudModels?: boolean;
  saveUnreachable?: boolean;
}

/**
 * Edits the run-time settings. Every save checks that Ollama answers at the (new or current) URL and
 * reports it; a new URL that does not answer is refused unless the admin insists (saveUnreachable),
 * so a typo cannot silently cut every key off.
 */
@Injectable()
export class SettingsEditor {
  constructor(
    private readonly settings: SettingsService,
    private readonly ollama: OllamaProbe,
  ) {}

  async view(): Promise<SettingsView> {
    return toView(await this.settings.get());
  }

  async update(change: SettingsChange): Promise<{ settings: SettingsView; ollama: OllamaStatus }> {
    const current = await this.settings.get();
    const newUrl = change.ollamaUrl?.replace(/\/+$/, '');
    const ollama = await this.ollama.status(newUrl ?? current.ollamaUrl);
    if (newUrl !== undefined && newUrl !== current.ollamaUrl && !ollama.reachable && !change.saveUnreachable) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: `ollama_url: ${ollama.error}; nothing was saved (send "save_unreachable": true to save it anyway)`,
        ollama,
      });
    }
    const keepAliveMin = change.keepAliveMinSeconds ?? current.keepAliveMinSeconds;
    const keepAliveMax = change.keepAliveMaxSeconds ?? current.keepAliveMaxSeconds;
    if (keepAliveMin > keepAliveMax) {
      throw new BadRequestException(`keep_alive_min_s (${keepAliveMin}) must not exceed keep_alive_max_s (${keepAliveMax})`);
    }
    const patch: Partial<Settings> = {
      ollamaUrl: newUrl,
      defaultModel: change.defaultModel,
      modelAliases: change.modelAliases,
      numCtx: change.numCtx,
      keepAliveMinSeconds: change.keepAliveMinSeconds,
      keepAliveMaxSeconds: change.keepAliveMaxSeconds,
      maxNumCtx: change.maxNumCtx,
      allowLoadOptions: change.allowLoadOptions,
      allowCloudModels: change.allowCloudModels,
    };
    return { settings: toView(await this.settings.update(patch)), ollama };
  }
}

function toView(settings: Settings): SettingsView {
  return {
    ollama_url: settings.ollamaUrl,
    default_model: settings.defaultModel,
    model_aliases: settings.modelAliases,
    num_ctx: settings.numCtx,
    keep_alive_min_s: settings.keepAliveMinSeconds,
    keep_alive_max_s: settings.keepAliveMaxSeconds,
    max_num_ctx: settings.maxNumCtx,
    allow_load_options: settings.allowLoadOptions,
    allow_cloud_models: settings.allowCloudModels,
  };
}
