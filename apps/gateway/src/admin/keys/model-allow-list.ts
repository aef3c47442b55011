import { BadGatewayException, BadRequestException, Injectable } from '@nestjs/common';
import { canonicalModelName as canonical } from '@llmproxy/dialects';
import { UpstreamPool } from '@llmproxy/upstreams';
import { OllamaProbe } from '../ollama/ollama-probe.js';

/** A key's allow-list may only name models one of the Ollama servers has (a typo would lock the key out silently). */
@Injectable()
export class ModelAllowList {
  constructor(
    private readonly pool: UpstreamPool,
    private readonly ollama: OllamaProbe,
  ) {}

  /** Throws 400 naming the first unknown model, or 502 when Ollama cannot be asked. Null/absent: nothing to check. */
  async check(models: readonly string[] | null | undefined): Promise<void> {
    if (!models || models.length === 0) return;
    const known = await this.ollama.modelsOf(this.pool.enabled().map((upstream) => upstream.url)).catch((error: Error) => {
      throw new BadGatewayException(`allowed_models cannot be checked: ${error.message}`);
    });
    const names = new Set(known.map((model) => canonical(model.name)));
    const unknown = models.find((model) => !names.has(canonical(model)));
    if (unknown !== undefined) {
      throw new BadRequestException(`allowed_models: Ollama has no model '${unknown}' (it has: ${[...names].sort().join(', ') || 'none'})`);
    }
  }
}
