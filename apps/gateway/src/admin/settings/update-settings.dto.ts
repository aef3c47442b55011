import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  Validate,
  ValidateIf,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';

export const MIN_NUM_CTX = 512;
export const MAX_NUM_CTX = 1_048_576;
const MAX_ALIASES = 500;

@ValidatorConstraint({ name: 'httpUrl' })
class IsHttpUrl implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'string' || value.length > 2000) return false;
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.search === '' && url.hash === '';
    } catch {
      return false;
    }
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be an http(s) URL such as http://localhost:11434`;
  }
}

@ValidatorConstraint({ name: 'modelAliases' })
class IsModelAliases implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const entries = Object.entries(value);
    return (
      entries.length <= MAX_ALIASES &&
      entries.every(([pattern, model]) => pattern.trim() !== '' && pattern.length <= 200 && typeof model === 'string' && model.trim() !== '' && model.length <= 200)
    );
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} must be an object of at most ${MAX_ALIASES} non-empty patterns, each mapped to a non-empty Ollama model name`;
  }
}

/** PUT /api/settings: every field optional; absent fields stay as they are. */
export class UpdateSettingsDto {
  @ApiPropertyOptional({ format: 'uri', maxLength: 2000, example: 'http://localhost:11434', description: 'The Ollama server (http or https, no query). With several upstreams: 409, change them under /api/upstreams.' })
  @ValidateIf((_, value) => value !== undefined)
  @Validate(IsHttpUrl)
  ollama_url?: string;

  /** null: no default model. */
  @ApiPropertyOptional({ type: String, minLength: 1, maxLength: 200, nullable: true, description: 'Model for requests that name none Ollama has; must be one the servers have unless save_unknown_models. null: none.' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  default_model?: string | null;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string', minLength: 1, maxLength: 200 }, maxProperties: MAX_ALIASES, description: 'Pattern (1-200 characters) → Ollama model; targets must be models the servers have unless save_unknown_models.' })
  @ValidateIf((_, value) => value !== undefined)
  @Validate(IsModelAliases)
  model_aliases?: Record<string, string>;

  @ApiPropertyOptional({ type: 'integer', minimum: MIN_NUM_CTX, maximum: MAX_NUM_CTX, description: 'Context window the gateway asks Ollama for.' })
  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(MIN_NUM_CTX)
  @Max(MAX_NUM_CTX)
  num_ctx?: number;

  /** keep_alive of key holders' requests is clamped into [min, max] seconds (1 s to 24 h; 0 would unload a model others use). */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 86_400, description: 'Least keep_alive (seconds) of key holders\' requests; not above keep_alive_max_s.' })
  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(1)
  @Max(86_400)
  keep_alive_min_s?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 86_400, description: 'Largest keep_alive (seconds) of key holders\' requests.' })
  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(1)
  @Max(86_400)
  keep_alive_max_s?: number;

  /** Largest options.num_ctx of a native request; null = num_ctx. */
  @ApiPropertyOptional({ type: 'integer', minimum: MIN_NUM_CTX, maximum: MAX_NUM_CTX, nullable: true, description: 'Largest options.num_ctx of a native request; null: num_ctx.' })
  @IsOptional()
  @IsInt()
  @Min(MIN_NUM_CTX)
  @Max(MAX_NUM_CTX)
  max_num_ctx?: number | null;

  @ApiPropertyOptional({ description: 'Pass options that reload a shared model (num_gpu, main_gpu, use_mmap, num_thread, …); removed when false.' })
  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  allow_load_options?: boolean;

  @ApiPropertyOptional({ description: 'Allow Ollama\'s cloud models (run on ollama.com with the server owner\'s account).' })
  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  allow_cloud_models?: boolean;

  /** Save a new Ollama URL even if it does not answer GET /api/version. */
  @ApiPropertyOptional({ description: 'Save a new ollama_url even if it does not answer GET /api/version. Not stored.' })
  @IsOptional()
  @IsBoolean()
  save_unreachable?: boolean;

  /** Save a default model or alias target that no Ollama server has (yet). */
  @ApiPropertyOptional({ description: 'Save a default model or alias target that no Ollama server has (yet). Not stored.' })
  @IsOptional()
  @IsBoolean()
  save_unknown_models?: boolean;
}
