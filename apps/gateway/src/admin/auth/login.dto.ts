import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

/** POST /api/login. */
export class LoginDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(1000)
  password!: string;
}
