import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { UsageByUpstream, UsageResponse, UsageRow, UsageTotals } from '@llmproxy/api-types';

/** The answer of GET /api/usage, as OpenAPI schemas; `implements` keeps them to libs/api-types' interfaces. */
@ApiSchema({ name: 'UsageRow' })
export class UsageRowSchema implements UsageRow {
  @ApiProperty({ format: 'date-time', example: '2026-11-26T00:00:00+01:00', description: 'Start of the local day or hour, with the zone offset.' })
  bucket!: string;

  @ApiProperty({ type: 'integer' })
  key_id!: number;

  @ApiProperty({ type: String, nullable: true, description: 'null: the key was deleted.' })
  key_name!: string | null;

  @ApiProperty()
  model!: string;

  @ApiProperty({ type: 'integer' })
  requests!: number;

  @ApiProperty({ type: 'integer' })
  prompt_tokens!: number;

  @ApiProperty({ type: 'integer' })
  completion_tokens!: number;

  @ApiProperty({ type: 'integer', description: 'Requests whose token counts were estimated (Ollama reported none).' })
  estimated_requests!: number;

  @ApiProperty({ type: 'integer' })
  failed_requests!: number;
}

@ApiSchema({ name: 'UsageTotals' })
export class UsageTotalsSchema implements UsageTotals {
  @ApiProperty({ type: 'integer' })
  requests!: number;

  @ApiProperty({ type: 'integer' })
  prompt_tokens!: number;

  @ApiProperty({ type: 'integer' })
  completion_tokens!: number;
}

@ApiSchema({ name: 'UsageByUpstream', description: "One upstream's share of a usage report's range." })
export class UsageByUpstreamSchema implements UsageByUpstream {
  @ApiProperty({ type: String, nullable: true, description: 'The upstream that served the requests; null: admitted requests no upstream served.' })
  upstream!: string | null;

  @ApiProperty({ type: 'integer' })
  requests!: number;

  @ApiProperty({ type: 'integer' })
  prompt_tokens!: number;

  @ApiProperty({ type: 'integer' })
  completion_tokens!: number;

  @ApiProperty({ type: 'integer' })
  failed_requests!: number;
}

@ApiSchema({ name: 'UsageResponse' })
export class UsageResponseSchema implements UsageResponse {
  @ApiProperty({ example: 'Europe/Berlin' })
  time_zone!: string;

  @ApiProperty({ enum: ['day', 'hour'] })
  granularity!: 'day' | 'hour';

  @ApiProperty({ format: 'date' })
  from!: string;

  @ApiProperty({ format: 'date' })
  to!: string;

  @ApiProperty({ type: UsageRowSchema, isArray: true })
  series!: UsageRowSchema[];

  @ApiProperty({ type: UsageTotalsSchema })
  totals!: UsageTotalsSchema;

  @ApiProperty({ type: UsageByUpstreamSchema, isArray: true, description: 'The same range per upstream, ordered by name, null last.' })
  upstreams!: UsageByUpstreamSchema[];
}
