// @nestjs/swagger's PartialType is @nestjs/mapped-types' plus the properties' OpenAPI metadata.
import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min } from 'class-validator';

/** POST /api/upstreams: one Ollama server. */
export class CreateUpstreamDto {
  /** Shown in the UI, the usage log, the metrics and the `x-llmproxy-upstream` header: never the URL. */
  @ApiProperty({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'Unique; shown in the UI, the usage log, the metrics and the x-llmproxy-upstream header (never the URL).' })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { message: 'name must be 1-64 letters, digits, dots, dashes or underscores' })
  name!: string;

  @ApiProperty({ format: 'uri', example: 'http://gpu1:11434', description: 'http(s) URL of the Ollama server.' })
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'url must be an http(s) URL such as http://gpu1:11434' })
  url!: string;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  /** Requests the gateway sends this server at once (per process); default 4. */
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1024, default: 4, description: 'Requests the gateway sends this server at once (per process).' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  max_parallel?: number;

  /** Among otherwise equal servers, the higher is chosen first; default 0. */
  @ApiPropertyOptional({ type: 'integer', minimum: -1000, maximum: 1000, default: 0, description: 'Among otherwise equal servers, the higher is chosen first.' })
  @IsOptional()
  @IsInt()
  @Min(-1000)
  @Max(1000)
  priority?: number;

  /**
   * Of max_parallel, the slots only a key with nothing in flight on this server may take; default 0.
   * Less than max_parallel. A newcomer then starts at once while another key holds the rest.
   */
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 1023, default: 0, description: 'Of max_parallel (and less than it), the slots only a key with nothing in flight on this server may take.' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1023)
  reserved_slots?: number;
}

/** PATCH /api/upstreams/{id}: any of the fields. */
export class UpdateUpstreamDto extends PartialType(CreateUpstreamDto) {}
