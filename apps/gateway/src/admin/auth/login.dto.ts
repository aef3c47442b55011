import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

/** POST /api/login. Without a username (older clients and scripts): ADMIN_PASSWORD's built-in admin. */
export class LoginDto {
  /** Any text: an unknown name is a wrong login like any other, not a validation error that tells it apart. */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  username?: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(1000)
  password!: string;
}
