import { SetMetadata } from '@nestjs/common';

export const INFERENCE = 'llmproxy:inference';

export interface InferenceRoute {
  /** Generates text (chat, generate, completions, messages): its completion is capped and reserved. Embeddings do not. */
  generates: boolean;
}

/** The route runs a model: it counts against the key's quotas and is metered (DESIGN.md §4). */
export const Inference = (route: InferenceRoute) => SetMetadata(INFERENCE, route);
