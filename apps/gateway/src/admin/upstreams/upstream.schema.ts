import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { BreakerState, UpstreamHealth, UpstreamIncident, UpstreamView } from '@llmproxy/api-types';

/** The answers of /api/upstreams, as OpenAPI schemas; `implements` keeps them to libs/api-types' interfaces. */
@ApiSchema({ name: 'UpstreamIncident', description: 'A failure seen on an upstream.' })
export class UpstreamIncidentSchema implements UpstreamIncident {
  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty()
  message!: string;
}

@ApiSchema({ name: 'UpstreamStatus', description: "This process's view of the upstream (each replica polls and counts for itself)." })
export class UpstreamStatusSchema implements Readonly<UpstreamView['status']> {
  @ApiProperty({ enum: ['up', 'down', 'unknown', 'disabled'] satisfies UpstreamHealth[] })
  health!: UpstreamHealth;

  @ApiProperty({ enum: ['closed', 'open', 'half_open'] satisfies BreakerState[] })
  breaker!: BreakerState;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  last_poll_at!: string | null;

  @ApiProperty({ type: String, isArray: true })
  models!: string[];

  @ApiProperty({ type: String, isArray: true, description: 'Models loaded in memory.' })
  loaded!: string[];

  @ApiProperty({ type: 'integer' })
  in_flight!: number;

  @ApiProperty({ type: 'integer' })
  queued!: number;

  @ApiProperty({ type: 'integer' })
  served!: number;

  @ApiProperty({ type: 'integer' })
  failovers!: number;

  @ApiProperty({ type: UpstreamIncidentSchema, isArray: true, description: 'Newest first, a few kept.' })
  recent_errors!: UpstreamIncidentSchema[];
}

@ApiSchema({ name: 'UpstreamView', description: 'One Ollama server: its configuration and this process\'s view of it.' })
export class UpstreamViewSchema implements UpstreamView {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty()
  name!: string;

  @ApiProperty({ description: 'Passwords masked: never send it back unchanged.' })
  url!: string;

  @ApiProperty()
  enabled!: boolean;

  @ApiProperty({ type: 'integer' })
  max_parallel!: number;

  @ApiPropertyOptional({ type: 'integer', description: 'Slots kept for keys with nothing in flight on this upstream; absent from gateways before it existed.' })
  reserved_slots?: number;

  @ApiProperty({ type: 'integer' })
  priority!: number;

  @ApiProperty({ type: UpstreamStatusSchema })
  status!: UpstreamStatusSchema;
}
