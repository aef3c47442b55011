import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

/** POST /api/login. Without a username (older clients and scripts): ADMIN_PASSWORD's built-in admin. */
export class LoginDto {
  /** Any text: an unknown name is a wrong login like any other, not a validation error that tells it apart. */
  @ApiPropertyOptional({ maxLength: 200, description: 'A named account; absent (or "admin"): the built-in admin, whose password is ADMIN_PASSWORD.' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  username?: string;

  @ApiProperty({ minLength: 1, maxLength: 1000, description: "The account's password (ADMIN_PASSWORD for the built-in admin)." })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1000)
  password!: string;
}
