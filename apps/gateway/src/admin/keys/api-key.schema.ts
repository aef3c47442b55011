import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { ApiKeyView, ApiKeyWithSecret, ApiKeyWithUsage } from '@llmproxy/api-types';
import { KeyUsageSchema } from '../../common/openapi/key-usage.schema.js';

/** The answers of /api/api-keys, as OpenAPI schemas; `implements` keeps them to libs/api-types' interfaces. */
@ApiSchema({ name: 'ApiKeyView' })
export class ApiKeyViewSchema implements ApiKeyView {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty()
  name!: string;

  @ApiProperty({ description: 'The first characters of the key, to tell keys apart; never the key.' })
  key_prefix!: string;

  @ApiProperty()
  is_active!: boolean;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expires_at!: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  last_used_at!: string | null;

  @ApiProperty({ type: String, isArray: true, nullable: true, description: 'null: every model.' })
  allowed_models!: string[] | null;

  @ApiProperty({ type: 'integer', nullable: true })
  max_concurrent!: number | null;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 100, description: "The key's share of the GPU queue when keys wait (turns per round)." })
  queue_weight!: number;

  @ApiProperty({ type: 'integer', nullable: true })
  daily_token_limit!: number | null;

  @ApiProperty({ type: 'integer', nullable: true })
  monthly_token_limit!: number | null;

  @ApiProperty({ type: 'integer', nullable: true })
  daily_request_limit!: number | null;

  @ApiProperty({ type: 'integer', nullable: true })
  monthly_request_limit!: number | null;
}

@ApiSchema({ name: 'ApiKeyWithUsage' })
export class ApiKeyWithUsageSchema extends ApiKeyViewSchema implements ApiKeyWithUsage {
  @ApiProperty({ type: KeyUsageSchema })
  usage!: KeyUsageSchema;
}

const SECRET = 'The plaintext key, answered this once: only its hash is stored.';

/** The answer to create. */
@ApiSchema({ name: 'ApiKeyWithSecret' })
export class ApiKeyWithSecretSchema extends ApiKeyViewSchema implements ApiKeyWithSecret {
  @ApiProperty({ description: SECRET })
  key!: string;
}

/** The answer to rotate: the key with its usage and the new secret. */
@ApiSchema({ name: 'RotatedApiKey' })
export class RotatedApiKeySchema extends ApiKeyWithUsageSchema implements ApiKeyWithSecret {
  @ApiProperty({ description: SECRET })
  key!: string;
}
