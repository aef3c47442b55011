import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'llmproxy:public';

/** Routes that answer without credentials: Ollama's banner, Claude Code's probes, health checks, the UI's files. */
export const Public = () => SetMetadata(IS_PUBLIC, true);
