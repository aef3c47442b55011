import { ApiExtraModels, ApiProperty, ApiSchema, getSchemaPath } from '@nestjs/swagger';
import type { AuthMethods } from '@llmproxy/api-types';

@ApiSchema({ name: 'SsoMethod', description: 'Single sign-on with OpenID Connect: the button\'s name and where it goes.' })
export class SsoMethodSchema implements NonNullable<AuthMethods['sso']> {
  @ApiProperty({ example: 'Keycloak' })
  name!: string;

  @ApiProperty({ example: '/api/oidc/login' })
  login_url!: string;
}

/** GET /api/auth-methods; `implements` keeps it to libs/api-types' interface. */
@ApiSchema({ name: 'AuthMethods', description: 'What the login page offers.' })
@ApiExtraModels(SsoMethodSchema)
export class AuthMethodsSchema implements AuthMethods {
  @ApiProperty({ description: 'false with OIDC_ONLY: the page shows only the single sign-on button (named accounts cannot log in with a password; ADMIN_PASSWORD still can).' })
  password!: boolean;

  @ApiProperty({ oneOf: [{ $ref: getSchemaPath(SsoMethodSchema) }, { type: 'null' }], description: 'null unless OIDC_ISSUER is set.' })
  sso!: SsoMethodSchema | null;
}
