import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { AdminRole } from '@llmproxy/api-types';

export const ROLES: readonly AdminRole[] = ['admin', 'viewer'];
/** Long enough that the throttle, not luck, is what stands between a guesser and an account. */
export const MIN_PASSWORD_LENGTH = 12;

const lowerCase = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);

/** POST /api/accounts. Usernames are compared in lower case. */
export class CreateAccountDto {
  @Transform(lowerCase)
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._@-]{0,63}$/, { message: 'username: 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit' })
  username!: string;

  @IsIn(ROLES)
  role!: AdminRole;

  @IsString()
  @MinLength(MIN_PASSWORD_LENGTH)
  @MaxLength(1000)
  password!: string;
}

/** PATCH /api/accounts/{id}: absent fields stay as they are; a password resets it. */
export class UpdateAccountDto {
  @IsOptional()
  @Transform(lowerCase)
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9._@-]{0,63}$/, { message: 'username: 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit' })
  username?: string;

  @IsOptional()
  @IsIn(ROLES)
  role?: AdminRole;

  @IsOptional()
  @IsString()
  @MinLength(MIN_PASSWORD_LENGTH)
  @MaxLength(1000)
  password?: string;
}

/** PUT /api/me/password. */
export class ChangePasswordDto {
  @IsString()
  @MaxLength(1000)
  current_password!: string;

  @IsString()
  @MinLength(MIN_PASSWORD_LENGTH)
  @MaxLength(1000)
  new_password!: string;
}
