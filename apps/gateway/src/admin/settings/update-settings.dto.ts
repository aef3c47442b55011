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
  @ValidateIf((_, value) => value !== undefined)
  @Validate(IsHttpUrl)
  ollama_url?: string;

  /** null: no default model. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  default_model?: string | null;

  @ValidateIf((_, value) => value !== undefined)
  @Validate(IsModelAliases)
  model_aliases?: Record<string, string>;

  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(MIN_NUM_CTX)
  @Max(MAX_NUM_CTX)
  num_ctx?: number;

  /** keep_alive of key holders' requests is clamped into [min, max] seconds (1 s to 24 h; 0 would unload a model others use). */
  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(1)
  @Max(86_400)
  keep_alive_min_s?: number;

  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(1)
  @Max(86_400)
  keep_alive_max_s?: number;

  /** Largest options.num_ctx of a native request; null = num_ctx. */
  @IsOptional()
  @IsInt()
  @Min(MIN_NUM_CTX)
  @Max(MAX_NUM_CTX)
  max_num_ctx?: number | null;

  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  allow_load_options?: boolean;

  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  allow_cloud_models?: boolean;

  /** Save a new Ollama URL even if it does not answer GET /api/version. */
  @IsOptional()
  @IsBoolean()
  save_unreachable?: boolean;

  /** Save a default model or alias target that no Ollama server has (yet). */
  @IsOptional()
  @IsBoolean()
  save_unknown_models?: boolean;
}
