import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { AccountView, AdminRole, MeView } from '@llmproxy/api-types';
import { ROLES } from './account.dto.js';

/** The answers of /api/accounts and /api/me, as OpenAPI schemas; `implements` keeps them to libs/api-types' interfaces. */
@ApiSchema({ name: 'AccountView', description: 'A named admin account: never the password or its hash.' })
export class AccountViewSchema implements AccountView {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty({ example: 'alice', description: 'Lower case; `oidc:<sub>` for an account of the OpenID provider.' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: AdminRole;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ format: 'date-time' })
  updated_at!: string;

  @ApiProperty({ format: 'date-time' })
  password_changed_at!: string;
}

@ApiSchema({ name: 'MeView', description: 'Who the credential belongs to.' })
export class MeViewSchema implements MeView {
  @ApiProperty({ description: '"admin" for ADMIN_PASSWORD.' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: AdminRole;

  @ApiProperty({ description: 'The admin of ADMIN_PASSWORD, not a stored account.' })
  built_in!: boolean;

  @ApiProperty({ description: 'An account of the OpenID provider (`oidc:<sub>`): no password here to change.' })
  sso!: boolean;
}
