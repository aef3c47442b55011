import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsDate,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  MinDate,
  Max,
} from 'class-validator';

const MAX_LIMIT = Number.MAX_SAFE_INTEGER;

/** POST /api/api-keys. Every limit is optional; absent or null = unlimited. */
export class CreateApiKeyDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;

  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'expires_at must be an ISO 8601 date-time' })
  @MinDate(() => new Date(), { message: 'expires_at must be in the future' })
  expires_at?: Date | null;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  allowed_models?: string[] | null;

  @IsOptional() @IsInt() @Min(1) @Max(10_000)
  max_concurrent?: number | null;

  @IsOptional() @IsInt() @Min(0) @Max(MAX_LIMIT)
  daily_token_limit?: number | null;

  @IsOptional() @IsInt() @Min(0) @Max(MAX_LIMIT)
  monthly_token_limit?: number | null;

  @IsOptional() @IsInt() @Min(0) @Max(MAX_LIMIT)
  daily_request_limit?: number | null;

  @IsOptional() @IsInt() @Min(0) @Max(MAX_LIMIT)
  monthly_request_limit?: number | null;
}
