import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { KeyNearLimit, Overview, UpstreamHealth } from '@llmproxy/api-types';
import { UsageTotalsSchema } from '../usage/usage.schema.js';

/** The answer of GET /api/overview, as OpenAPI schemas; `implements` keeps them to libs/api-types' interfaces. */
@ApiSchema({ name: 'OverviewMinute' })
export class OverviewMinuteSchema implements Readonly<Overview['requests_per_minute'][number]> {
  @ApiProperty({ format: 'date-time', description: 'The minute\'s start.' })
  minute!: string;

  @ApiProperty({ type: 'integer' })
  requests!: number;
}

@ApiSchema({ name: 'OverviewRefusals', description: "This process's refusals and failures over the last hour, by kind." })
export class OverviewRefusalsSchema implements Readonly<Overview['refusals_last_hour']> {
  @ApiProperty({ type: 'integer' })
  unauthorized!: number;

  @ApiProperty({ type: 'integer' })
  forbidden!: number;

  @ApiProperty({ type: 'integer' })
  not_found!: number;

  @ApiProperty({ type: 'integer' })
  bad_request!: number;

  @ApiProperty({ type: 'integer' })
  quota_requests!: number;

  @ApiProperty({ type: 'integer' })
  quota_tokens!: number;

  @ApiProperty({ type: 'integer' })
  quota_concurrency!: number;

  @ApiProperty({ type: 'integer' })
  overloaded!: number;

  @ApiProperty({ type: 'integer' })
  upstream!: number;
}

@ApiSchema({ name: 'OverviewUpstream', description: 'An Ollama server as this process sees it.' })
export class OverviewUpstreamSchema implements Readonly<Overview['upstreams'][number]> {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty()
  name!: string;

  @ApiProperty({ enum: ['up', 'down', 'unknown', 'disabled'] satisfies UpstreamHealth[] })
  health!: UpstreamHealth;

  @ApiProperty({ type: String, isArray: true, description: 'Models loaded in memory.' })
  loaded!: string[];

  @ApiProperty({ type: 'integer' })
  in_flight!: number;

  @ApiProperty({ type: 'integer' })
  max_parallel!: number;

  @ApiProperty({ type: 'integer' })
  queued!: number;
}

@ApiSchema({ name: 'KeyNearLimit', description: 'An active key near one of its limits: the one it has used most of.' })
export class KeyNearLimitSchema implements KeyNearLimit {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty()
  name!: string;

  @ApiProperty({ enum: ['day', 'month'] })
  window!: 'day' | 'month';

  @ApiProperty({ enum: ['requests', 'tokens'] })
  kind!: 'requests' | 'tokens';

  @ApiProperty({ type: 'integer', description: 'Tokens include those held by requests still running.' })
  used!: number;

  @ApiProperty({ type: 'integer' })
  limit!: number;

  @ApiProperty({ type: 'number', minimum: 0, description: 'used / limit: 0..1, more when a running request overshot its estimate.' })
  share!: number;

  @ApiProperty({ format: 'date-time' })
  resets_at!: string;
}

@ApiSchema({ name: 'Overview', description: 'The first page after login.' })
export class OverviewSchema implements Overview {
  @ApiProperty({ example: 'Europe/Berlin', description: "The server's time zone." })
  time_zone!: string;

  @ApiProperty({ format: 'date', description: "Today's local date in that time zone." })
  today!: string;

  @ApiProperty({ type: UsageTotalsSchema, description: "Today's requests and tokens over every key, from the usage report (every replica)." })
  totals_today!: UsageTotalsSchema;

  @ApiProperty({ type: OverviewMinuteSchema, isArray: true, description: "This process's last hour, a minute at a time, oldest first." })
  requests_per_minute!: OverviewMinuteSchema[];

  @ApiProperty({ type: OverviewRefusalsSchema })
  refusals_last_hour!: OverviewRefusalsSchema;

  @ApiProperty({ type: 'integer', description: 'Streaming responses in progress in this process.' })
  streams_in_flight!: number;

  @ApiProperty({ type: OverviewUpstreamSchema, isArray: true })
  upstreams!: OverviewUpstreamSchema[];

  @ApiProperty({ type: KeyNearLimitSchema, isArray: true, description: 'Highest share first, at most 5; only keys with a limit and some use.' })
  keys_near_limits!: KeyNearLimitSchema[];
}
