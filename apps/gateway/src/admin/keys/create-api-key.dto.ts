import { IntersectionType } from '@nestjs/mapped-types';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { KeyFieldsDto } from './key-fields.dto.js';
import { UpdateQuotaDto } from './update-quota.dto.js';

/** POST /api/api-keys: a name, the key's settings and its limits (each optional; absent or null = unlimited). */
export class CreateApiKeyDto extends IntersectionType(KeyFieldsDto, UpdateQuotaDto) {
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;
}
