import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiSchema, getSchemaPath } from '@nestjs/swagger';
import type { Settings, UpdateSettingsResponse } from '@llmproxy/api-types';
import { ErrorBodySchema } from '../../common/openapi/error-body.js';

/** The answers of /api/settings, as OpenAPI schemas; `implements` keeps them to libs/api-types' interfaces. */
@ApiSchema({ name: 'Settings' })
export class SettingsSchema implements Settings {
  @ApiProperty({ format: 'uri' })
  ollama_url!: string;

  @ApiProperty({ type: String, nullable: true })
  default_model!: string | null;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'Pattern → Ollama model.' })
  model_aliases!: Record<string, string>;

  @ApiProperty({ type: 'integer' })
  num_ctx!: number;

  @ApiProperty({ type: 'integer', description: 'keep_alive a key holder may set is clamped into [min, max] seconds.' })
  keep_alive_min_s!: number;

  @ApiProperty({ type: 'integer' })
  keep_alive_max_s!: number;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Largest options.num_ctx of a native request; null: num_ctx.' })
  max_num_ctx!: number | null;

  @ApiProperty()
  allow_load_options!: boolean;

  @ApiProperty()
  allow_cloud_models!: boolean;
}

@ApiSchema({ name: 'OllamaReachable' })
export class OllamaReachableSchema {
  @ApiProperty({ enum: [true] })
  reachable!: true;

  @ApiProperty({ example: '0.12.0' })
  version!: string;
}

@ApiSchema({ name: 'OllamaUnreachable' })
export class OllamaUnreachableSchema {
  @ApiProperty({ enum: [false] })
  reachable!: false;

  @ApiProperty()
  error!: string;
}

const OLLAMA_STATUS = { oneOf: [{ $ref: getSchemaPath(OllamaReachableSchema) }, { $ref: getSchemaPath(OllamaUnreachableSchema) }] };

@ApiSchema({ name: 'UpdateSettingsResponse' })
@ApiExtraModels(OllamaReachableSchema, OllamaUnreachableSchema)
export class UpdateSettingsResponseSchema implements UpdateSettingsResponse {
  @ApiProperty({ type: SettingsSchema })
  settings!: SettingsSchema;

  @ApiProperty({ ...OLLAMA_STATUS, description: 'Whether the (new) Ollama URL answered GET /api/version.' })
  ollama!: OllamaReachableSchema | OllamaUnreachableSchema;
}

/** A 400 of PUT /api/settings that can be overridden: what failed, to save anyway. */
@ApiSchema({ name: 'SettingsRefusal' })
@ApiExtraModels(OllamaReachableSchema, OllamaUnreachableSchema)
export class SettingsRefusalSchema extends ErrorBodySchema {
  @ApiPropertyOptional({ ...OLLAMA_STATUS, description: 'With an unreachable ollama_url: send save_unreachable to save it anyway.' })
  ollama?: OllamaReachableSchema | OllamaUnreachableSchema;

  @ApiPropertyOptional({ type: String, isArray: true, description: 'Models no Ollama server has: send save_unknown_models to save them anyway.' })
  unknown_models?: string[];
}
