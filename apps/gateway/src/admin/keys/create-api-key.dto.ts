// @nestjs/swagger's IntersectionType is @nestjs/mapped-types' plus the properties' OpenAPI metadata.
import { ApiProperty, IntersectionType } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { KeyFieldsDto } from './key-fields.dto.js';
import { UpdateQuotaDto } from './update-quota.dto.js';

/** POST /api/api-keys: a name, the key's settings and its limits (each optional; absent or null = unlimited). */
export class CreateApiKeyDto extends IntersectionType(KeyFieldsDto, UpdateQuotaDto) {
  @ApiProperty({ minLength: 1, maxLength: 100, description: 'Who or what uses the key; names differ in any letter case.' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;
}
