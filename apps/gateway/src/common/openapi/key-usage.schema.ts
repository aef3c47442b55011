import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { KeyUsage, UsageWindow } from '@llmproxy/api-types';

@ApiSchema({ name: 'UsageWindow', description: "Usage of one key in one quota window (the current day or month, in the server's APP_TZ)." })
export class UsageWindowSchema implements UsageWindow {
  @ApiProperty({ type: 'integer', minimum: 0 })
  requests!: number;

  @ApiProperty({ type: 'integer', minimum: 0 })
  tokens!: number;

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Tokens held by requests still running; they count against the limit until settled.' })
  reserved_tokens!: number;

  @ApiProperty({ type: 'integer', nullable: true, description: 'null: unlimited.' })
  request_limit!: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'null: unlimited.' })
  token_limit!: number | null;

  @ApiProperty({ format: 'date-time', example: '2025-03-30T00:00:00+01:00', description: "When the window resets, with the server's offset." })
  resets_at!: string;
}

@ApiSchema({ name: 'KeyUsage', description: "A key's usage in the current day and month windows." })
export class KeyUsageSchema implements KeyUsage {
  @ApiProperty({ type: UsageWindowSchema })
  day!: UsageWindowSchema;

  @ApiProperty({ type: UsageWindowSchema })
  month!: UsageWindowSchema;
}
