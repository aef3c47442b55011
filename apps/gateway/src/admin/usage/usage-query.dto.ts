import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Matches, MaxLength, Min } from 'class-validator';

/** GET /api/usage and /api/usage.csv. */
export class UsageQueryDto {
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'from must be a date YYYY-MM-DD' })
  from?: string;

  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'to must be a date YYYY-MM-DD' })
  to?: string;

  @IsOptional()
  @IsIn(['day', 'hour'])
  granularity?: 'day' | 'hour';

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  key_id?: number;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  model?: string;
}
