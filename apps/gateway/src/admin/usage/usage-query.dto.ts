import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, MaxLength, Min } from 'class-validator';

/** GET /api/usage and /api/usage.csv. */
export class UsageQueryDto {
  @ApiPropertyOptional({ format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'First day (YYYY-MM-DD, inclusive, in APP_TZ); default: 30 days ending with `to`.' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'from must be a date YYYY-MM-DD' })
  from?: string;

  @ApiPropertyOptional({ format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Last day (YYYY-MM-DD, inclusive, in APP_TZ); default: today.' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'to must be a date YYYY-MM-DD' })
  to?: string;

  @ApiPropertyOptional({ enum: ['day', 'hour'], default: 'day' })
  @IsOptional()
  @IsIn(['day', 'hour'])
  granularity?: 'day' | 'hour';

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'Only this key.' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  key_id?: number;

  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'Only this model.' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  model?: string;
}
