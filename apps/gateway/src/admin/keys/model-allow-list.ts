import { BadRequestException, Injectable } from '@nestjs/common';
import { KnownModels } from '../ollama/known-models.js';

/** A key's allow-list may only name models one of the Ollama servers has (a typo would lock the key out silently). */
@Injectable()
export class ModelAllowList {
  constructor(private readonly models: KnownModels) {}

  /** Throws 400 naming the first unknown model, or 502 when Ollama cannot be asked. Null/absent: nothing to check. */
  async check(models: readonly string[] | null | undefined): Promise<void> {
    if (!models || models.length === 0) return;
    const { unknown, known } = await this.models.unknown(models, 'allowed_models');
    if (unknown.length > 0) {
      throw new BadRequestException(`allowed_models: Ollama has no model '${unknown[0]}' (it has: ${known.join(', ') || 'none'})`);
    }
  }
}
