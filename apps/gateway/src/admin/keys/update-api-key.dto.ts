import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength, ValidateIf } from 'class-validator';
import { KeyFieldsDto } from './key-fields.dto.js';

/** PATCH /api/api-keys/{id}: each field optional; absent leaves it, null clears it (except the name). */
export class UpdateApiKeyDto extends KeyFieldsDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 100, description: 'Names differ in any letter case; never null.' })
  @ValidateIf((_, value) => value !== undefined)
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name?: string;
}
