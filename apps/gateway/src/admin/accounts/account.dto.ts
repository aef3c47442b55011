import { Transform } from 'class-transformer';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { AdminRole } from '@llmproxy/api-types';

export const ROLES: readonly AdminRole[] = ['admin', 'viewer'];
/** Long enough that the throttle, not luck, is what stands between a guesser and an account. */
export const MIN_PASSWORD_LENGTH = 12;

/** Usernames, after trimming and lower-casing. */
const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

const lowerCase = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);

/** POST /api/accounts. Usernames are compared in lower case. */
export class CreateAccountDto {
  @ApiProperty({ description: 'Trimmed and lower-cased, then 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit (^[a-z0-9][a-z0-9._@-]{0,63}$).' })
  @Transform(lowerCase)
  @IsString()
  @Matches(USERNAME_PATTERN, { message: 'username: 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit' })
  username!: string;

  @ApiProperty({ enum: ROLES, description: 'admin: everything; viewer: reads keys, usage, audit, upstreams and settings, changes nothing.' })
  @IsIn(ROLES)
  role!: AdminRole;

  @ApiProperty({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1000 })
  @IsString()
  @MinLength(MIN_PASSWORD_LENGTH)
  @MaxLength(1000)
  password!: string;
}

/** PATCH /api/accounts/{id}: absent fields stay as they are; a password resets it. */
export class UpdateAccountDto {
  @ApiPropertyOptional({ description: 'Trimmed and lower-cased, then 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit (^[a-z0-9][a-z0-9._@-]{0,63}$).' })
  @IsOptional()
  @Transform(lowerCase)
  @IsString()
  @Matches(USERNAME_PATTERN, { message: 'username: 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit' })
  username?: string;

  @ApiPropertyOptional({ enum: ROLES, description: 'The last admin cannot become a viewer.' })
  @IsOptional()
  @IsIn(ROLES)
  role?: AdminRole;

  @ApiPropertyOptional({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1000, description: 'Resets the password and ends the account\'s sessions (not for SSO accounts).' })
  @IsOptional()
  @IsString()
  @MinLength(MIN_PASSWORD_LENGTH)
  @MaxLength(1000)
  password?: string;
}

/** PUT /api/me/password. */
export class ChangePasswordDto {
  @ApiProperty({ maxLength: 1000 })
  @IsString()
  @MaxLength(1000)
  current_password!: string;

  @ApiProperty({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1000 })
  @IsString()
  @MinLength(MIN_PASSWORD_LENGTH)
  @MaxLength(1000)
  new_password!: string;
}
