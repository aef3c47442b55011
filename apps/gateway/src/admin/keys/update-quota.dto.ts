import { IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';

/** PATCH /api/api-keys/{id}/quota: each field optional; null lifts the limit, absent leaves it. */
export class UpdateQuotaDto {
  @IsOptional() @ValidateIf((_, v) => v !== null) @Min(0) @Max(Number.MAX_SAFE_INTEGER) @IsInt()
  daily_token_limit?: number | null;

  @IsOptional() @ValidateIf((_, v) => v !== null) @Min(0) @Max(Number.MAX_SAFE_INTEGER) @IsInt()
  monthly_token_limit?: number | null;

  @IsOptional() @ValidateIf((_, v) => v !== null) @Min(0) @Max(Number.MAX_SAFE_INTEGER) @IsInt()
  daily_request_limit?: number | null;

  @IsOptional() @ValidateIf((_, v) => v !== null) @Min(0) @Max(Number.MAX_SAFE_INTEGER) @IsInt()
  monthly_request_limit?: number | null;
}
