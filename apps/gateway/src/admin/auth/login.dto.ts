import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

/** POST /api/login. */
export class LoginDto {
  @ApiProperty({ minLength: 1, maxLength: 1000, description: 'ADMIN_PASSWORD.' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(1000)
  password!: string;
}
