import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDate, IsInt, IsNotEmpty, IsOptional, IsString, Max, Min, MinDate, ValidateIf } from 'class-validator';

/** A key's settings besides its name and limits, as POST and PATCH /api/api-keys take them; null clears. */
export class KeyFieldsDto {
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true, description: 'When the key stops working (ISO 8601, in the future); null: never.' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'expires_at must be an ISO 8601 date-time' })
  @MinDate(() => new Date(), { message: 'expires_at must be in the future' })
  expires_at?: Date | null;

  @ApiPropertyOptional({ type: String, isArray: true, nullable: true, maxItems: 1000, description: 'Models (or aliases) the key may use; each must be a model the Ollama servers have. null: every model.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  allowed_models?: string[] | null;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 10_000, nullable: true, description: 'Requests of this key in flight at once; null: no limit.' })
  @IsOptional() @IsInt() @Min(1) @Max(10_000)
  max_concurrent?: number | null;

  /** Turns per round in the fair queue when keys wait for a GPU slot: 2 = twice those of a key with 1. Absent: 1 (create) or unchanged; never null. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, description: 'Turns per round in the fair GPU queue (2 = twice those of a key with 1). Absent: 1 on create, unchanged on update; never null.' })
  @ValidateIf((_, value) => value !== undefined)
  @IsInt()
  @Min(1)
  @Max(100)
  queue_weight?: number;
}
