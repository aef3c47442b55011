import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { KeyUsageSchema } from '../../common/openapi/key-usage.schema.js';

@ApiSchema({ name: 'OwnKey' })
export class OwnKeySchema {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty()
  name!: string;
}

/** GET /v1/usage on the proxy port: the calling key's own limits, usage and resets. */
@ApiSchema({ name: 'OwnUsage' })
export class OwnUsageSchema extends KeyUsageSchema {
  @ApiProperty({ type: OwnKeySchema })
  key!: OwnKeySchema;

  @ApiProperty({ example: 'Europe/Berlin', description: "The server's APP_TZ, in which the windows reset." })
  time_zone!: string;
}

/** The proxy's error body on /v1/* (OpenAI's shape). */
@ApiSchema({ name: 'OpenAiErrorDetail' })
export class OpenAiErrorDetailSchema {
  @ApiProperty()
  message!: string;

  @ApiProperty({ example: 'invalid_request_error' })
  type!: string;

  @ApiProperty({ type: String, nullable: true })
  param!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'invalid_api_key' })
  code!: string | null;
}

@ApiSchema({ name: 'OpenAiError' })
export class OpenAiErrorSchema {
  @ApiProperty({ type: OpenAiErrorDetailSchema })
  error!: OpenAiErrorDetailSchema;
}
