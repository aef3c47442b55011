import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { LoginResponse } from '@llmproxy/api-types';

@ApiSchema({ name: 'LoginResponse' })
export class LoginResponseSchema implements LoginResponse {
  @ApiProperty({ description: 'A session token: send it as `Authorization: Bearer <token>`.' })
  token!: string;

  @ApiProperty({ format: 'date-time' })
  expires_at!: string;
}
