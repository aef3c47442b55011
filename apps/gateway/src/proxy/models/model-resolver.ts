import { Injectable } from '@nestjs/common';
import { allowListPermits, DialectError, modelNotFoundMessage, resolveModelName, sameModel, type TranslatedDialect } from '@llmproxy/dialects';
import type { ApiKeyRecord } from '@llmproxy/keys';
import { ModelCatalogue, type TagEntry } from '@llmproxy/ollama';
import { UpstreamPool } from '@llmproxy/upstreams';
import { SettingsService, type Settings } from '@llmproxy/settings';

export interface ResolvedModel {
  /** The Ollama model the request goes to. */
  model: string;
  capabilities: string[];
  thinkingCapable: boolean;
  settings: Settings;
}

/**
 * Model names of the translating dialects (OpenAI chat, embeddings, Responses; Anthropic), one rule
 * for all (`resolveModelName` in libs/dialects): the Ollama model of that name; else the first alias
 * from the settings whose pattern matches (`claude-*haiku*` → `qwen3:4b`); else, for the dialect's
 * vendor names only (`claude-*`; `gpt-*`, `o1*`, …), the default model (setting, then
 * ANTHROPIC_DEFAULT_MODEL). Any other name is 404, and a model outside the key's allow-list 403 —
 * both before anything reaches Ollama or the quota.
 */
@Injectable()
export class ModelResolver {
  private readonly catalogue = new ModelCatalogue();

  constructor(
    private readonly settings: SettingsService,
    private readonly pool: UpstreamPool,
  ) {}

  /** The models of every answering upstream, merged (UpstreamPool.models); throws the upstreams' error when none answers. */
  models(): Promise<TagEntry[]> {
    return this.pool.models();
  }

  /** What /api/show says of the model, asked of an upstream that has it: capabilities ([] when unknown). */
  async capabilities(model: string): Promise<string[]> {
    const upstream = this.pool.withModel(model);
    if (!upstream) return [];
    return this.catalogue.modelCapabilities(upstream.url, model).catch((): string[] => []);
  }

  /** The model's own context length from /api/show on an upstream that has it; undefined when unknown. */
  private async modelContextLength(model: string): Promise<number | undefined> {
    const upstream = this.pool.withModel(model);
    if (!upstream) return undefined;
    return this.catalogue.modelContextLength(upstream.url, model).catch(() => undefined);
  }

  /**
   * The Ollama model that serves `requested` for `key` in `dialect`. The allow-list is checked
   * against that model, never against the name the client sent: an allow-list names Ollama models
   * (the admin API refuses any other name), so listing an alias allows nothing and an alias or the
   * default model cannot lead a key to a model outside its list.
   */
  async resolveAllowed(key: ApiKeyRecord, requested: string, dialect: TranslatedDialect): Promise<ResolvedModel> {
    const settings = await this.settings.get();
    const available = (await this.models()).map((tag) => tag.name);
    const resolution = resolveModelName(requested, dialect, { available, aliases: settings.modelAliases, defaultModel: settings.defaultModel });
    if (!resolution.found) throw new DialectError(404, modelNotFoundMessage(requested, resolution), 'model');
    const model = resolution.model;
    if (!allowListPermits(key.allowedModels, model)) {
      const via = sameModel(model, requested) ? '' : ` (served by Ollama model '${model}')`;
      throw new DialectError(403, `model '${requested}'${via} is not allowed for this API key`, 'model');
    }
    const capabilities = await this.capabilities(model);
    return { model, capabilities, thinkingCapable: capabilities.includes('thinking'), settings };
  }

  /**
   * The context the served model runs with for a translated request: the num_ctx the dialects send
   * (the setting, within the admin's maximum), capped by the model's own context length from
   * /api/show when Ollama reports one. The inference gate refuses prompts that do not fit it.
   */
  async contextWindow(resolved: ResolvedModel): Promise<number> {
    const { settings } = resolved;
    return this.windowFor(resolved.model, Math.min(settings.numCtx, settings.maxNumCtx ?? settings.numCtx));
  }

  /** The window a request with `num_ctx` gets on `model`: num_ctx, capped by the model's own context length when Ollama reports one. */
  async windowFor(model: string, numCtx: number): Promise<number> {
    const modelLength = await this.modelContextLength(model);
    return Math.min(numCtx, modelLength ?? numCtx);
  }
}
