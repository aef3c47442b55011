import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { TagEntry } from '@llmproxy/ollama';

/** One model as Ollama's GET /api/tags lists it (passed on as Ollama wrote it: only `name` is sure). */
@ApiSchema({ name: 'OllamaModel' })
export class OllamaModelSchema implements TagEntry {
  @ApiProperty({ example: 'llama3.2:latest' })
  name!: string;

  @ApiPropertyOptional()
  model?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  modified_at?: string;

  @ApiPropertyOptional({ type: 'integer', description: 'Bytes.' })
  size?: number;

  @ApiPropertyOptional()
  digest?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  details?: Record<string, unknown>;
}

@ApiSchema({ name: 'OllamaModelsResponse' })
export class OllamaModelsResponseSchema {
  @ApiProperty({ type: OllamaModelSchema, isArray: true, description: 'The models of every enabled Ollama server, merged.' })
  models!: OllamaModelSchema[];
}
