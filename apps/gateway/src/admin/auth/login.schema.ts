import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { AdminRole, LoginResponse } from '@llmproxy/api-types';

@ApiSchema({ name: 'LoginResponse' })
export class LoginResponseSchema implements LoginResponse {
  @ApiProperty({ description: 'A session token: send it as `Authorization: Bearer <token>`.' })
  token!: string;

  @ApiProperty({ format: 'date-time' })
  expires_at!: string;

  @ApiProperty({ description: 'Who the session belongs to ("admin" for ADMIN_PASSWORD).' })
  username!: string;

  @ApiProperty({ enum: ['admin', 'viewer'] })
  role!: AdminRole;
}
