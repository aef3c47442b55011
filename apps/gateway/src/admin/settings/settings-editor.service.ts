import type { Settings as SettingsView } from '@llmproxy/api-types';
import { BadRequestException, ConflictException, Injectable } from '@nestjs/common';
import { SettingsService, type Settings } from '@llmproxy/settings';
import { UpstreamPool, UpstreamRegistry } from '@llmproxy/upstreams';
import { KnownModels } from '../ollama/known-models.js';
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
  saveUnknownModels?: boolean;
}

/**
 * Edits the run-time settings. Every save checks that Ollama answers at the (new or current) URL and
 * reports it; a new URL that does not answer is refused unless the admin insists (saveUnreachable),
 * so a typo cannot silently cut every key off. Likewise a new default model or alias target must be
 * a model the Ollama servers have, unless the admin insists (saveUnknownModels: a model about to be
 * pulled).
 *
 * `ollama_url` is the one-server view of the upstream list: it shows the first upstream's URL, and
 * changing it changes the URL of the only upstream. With several, they are edited under Upstreams.
 */
@Injectable()
export class SettingsEditor {
  constructor(
    private readonly settings: SettingsService,
    private readonly ollama: OllamaProbe,
    private readonly registry: UpstreamRegistry,
    private readonly pool: UpstreamPool,
    private readonly models: KnownModels,
  ) {}

  async view(): Promise<SettingsView> {
    return this.toView(await this.settings.get());
  }

  async update(change: SettingsChange): Promise<{ settings: SettingsView; ollama: OllamaStatus }> {
    const current = await this.settings.get();
    const upstreams = await this.registry.list();
    const currentUrl = upstreams[0]?.url ?? current.ollamaUrl;
    const newUrl = change.ollamaUrl?.replace(/\/+$/, '');
    if (newUrl !== undefined && newUrl !== currentUrl && upstreams.length > 1) {
      throw new ConflictException(`ollama_url: ${upstreams.length} Ollama servers are configured; change their URLs under Upstreams (/api/upstreams)`);
    }
    const ollama = await this.ollama.status(newUrl ?? currentUrl);
    if (newUrl !== undefined && newUrl !== currentUrl && !ollama.reachable && !change.saveUnreachable) {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: `ollama_url: ${ollama.error}; nothing was saved (send "save_unreachable": true to save it anyway)`,
        ollama,
      });
    }
    if (!change.saveUnknownModels) await this.checkModels(change, current);
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
    const saved = await this.settings.update(patch);
    if (newUrl !== undefined && newUrl !== currentUrl) {
      if (upstreams.length === 1) await this.registry.update(upstreams[0]!.id, { url: newUrl });
      else await this.registry.create({ name: 'ollama', url: newUrl });
      await this.pool.refresh();
    }
    return { settings: await this.toView(saved), ollama };
  }

  /** New alias targets and a new default model must be models the servers have (those saved before are not asked again). */
  private async checkModels(change: SettingsChange, current: Settings): Promise<void> {
    const named: { model: string; field: string }[] = [];
    if (change.defaultModel && change.defaultModel !== current.defaultModel) named.push({ model: change.defaultModel, field: 'default_model' });
    for (const [pattern, target] of Object.entries(change.modelAliases ?? {})) {
      if (current.modelAliases[pattern] !== target) named.push({ model: target, field: `model_aliases['${pattern}']` });
    }
    if (named.length === 0) return;
    const { unknown, known } = await this.models.unknown(
      named.map((entry) => entry.model),
      named.map((entry) => entry.field).join(', '),
    );
    if (unknown.length === 0) return;
    const first = named.find((entry) => entry.model === unknown[0])!;
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: `${first.field}: Ollama has no model '${first.model}' (it has: ${known.join(', ') || 'none'}); nothing was saved (send "save_unknown_models": true to save it anyway)`,
      unknown_models: unknown,
    });
  }

  private async toView(settings: Settings): Promise<SettingsView> {
    const first = (await this.registry.list())[0];
    return view(settings, first?.url ?? settings.ollamaUrl);
  }
}

function view(settings: Settings, ollamaUrl: string): SettingsView {
  return {
    ollama_url: ollamaUrl,
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
