import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';

/** PATCH /api/api-keys/{id}/quota: each field optional; null lifts the limit, absent leaves it. */
export class UpdateQuotaDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: true, description: 'Tokens per day (in APP_TZ); null: unlimited.' })
  @IsOptional() @ValidateIf((_, v) => v !== null) @Min(0) @Max(Number.MAX_SAFE_INTEGER) @IsInt()
  daily_token_limit?: number | null;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: true, description: 'Tokens per month (in APP_TZ); null: unlimited.' })
  @IsOptional() @ValidateIf((_, v) => v !== null) @Min(0) @Max(Number.MAX_SAFE_INTEGER) @IsInt()
  monthly_token_limit?: number | null;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: true, description: 'Requests per day (in APP_TZ); null: unlimited.' })
  @IsOptional() @ValidateIf((_, v) => v !== null) @Min(0) @Max(Number.MAX_SAFE_INTEGER) @IsInt()
  daily_request_limit?: number | null;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: true, description: 'Requests per month (in APP_TZ); null: unlimited.' })
  @IsOptional() @ValidateIf((_, v) => v !== null) @Min(0) @Max(Number.MAX_SAFE_INTEGER) @IsInt()
  monthly_request_limit?: number | null;
}
