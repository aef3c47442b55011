import { BadGatewayException, Injectable } from '@nestjs/common';
import { canonicalModelName as canonical } from '@llmproxy/dialects';
import { UpstreamPool } from '@llmproxy/upstreams';
import { OllamaProbe } from './ollama-probe.js';

/**
 * What the admin may name as a model — a key's allow-list, an alias target, the default model —
 * checked against the models the enabled Ollama servers have, asked at the moment of saving (a
 * typo would otherwise fail every request that meets it, silently until then).
 */
@Injectable()
export class KnownModels {
  constructor(
    private readonly pool: UpstreamPool,
    private readonly ollama: OllamaProbe,
  ) {}

  /** Those of `models` no enabled server has (in order, each once), with what they have; 502 naming `field` when none can be asked. */
  async unknown(models: readonly string[], field: string): Promise<{ unknown: string[]; known: string[] }> {
    const listed = await this.ollama.modelsOf(this.pool.enabled().map((upstream) => upstream.url)).catch((error: Error) => {
      throw new BadGatewayException(`${field} cannot be checked: ${error.message}`);
    });
    const names = new Set(listed.map((model) => canonical(model.name)));
    return { unknown: [...new Set(models.filter((model) => !names.has(canonical(model))))], known: [...names].sort() };
  }
}
