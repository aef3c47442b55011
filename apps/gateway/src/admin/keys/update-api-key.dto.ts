import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDate, IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min, MinDate, ValidateIf } from 'class-validator';

/** PATCH /api/api-keys/{id}: each field optional; absent leaves it, null clears it (except the name). */
export class UpdateApiKeyDto {
  @ValidateIf((_, value) => value !== undefined)
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name?: string;

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
}
