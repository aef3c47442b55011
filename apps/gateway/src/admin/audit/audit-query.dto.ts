import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** GET /api/audit: newest first, `limit` rows older than `before_id` (the last id of the previous page). */
export class AuditQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'Rows per page.' })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'The last id of the previous page: rows older than it.' })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  before_id?: number;
}
