import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUrl, Max, MaxLength, Min, MinLength, ValidateIf } from 'class-validator';
import { ALERT_EVENTS, ALERT_FORMATS, type AlertEvent, type AlertFormat } from '@llmproxy/api-types';

const URL_OPTIONS = { protocols: ['http', 'https'], require_protocol: true, require_tld: false };

/** POST /api/alerts/webhooks. */
export class CreateAlertWebhookDto {
  @ApiProperty({ minLength: 1, maxLength: 100 })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name!: string;

  @ApiProperty({ format: 'uri', maxLength: 2000, example: 'https://hooks.slack.com/services/T000/B000/XXXX', description: 'http(s) URL the alerts are POSTed to.' })
  @IsUrl(URL_OPTIONS, { message: 'url must be an http(s) URL' })
  @MaxLength(2000)
  url!: string;

  /** Write-only; null or absent: bodies are not signed. */
  @ApiPropertyOptional({ type: String, nullable: true, minLength: 8, maxLength: 500, writeOnly: true, description: 'Signs each body: X-Llmproxy-Signature: sha256=HMAC-SHA256(secret, "<X-Llmproxy-Timestamp>.<body>"). Never answered back; null removes it.' })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsString()
  @MinLength(8)
  @MaxLength(500)
  secret?: string | null;

  @ApiPropertyOptional({ enum: ALERT_FORMATS, default: 'json', description: 'json: {event, at, summary, ...details}; slack: an incoming webhook message; teams: a message with an Adaptive Card.' })
  @IsOptional()
  @IsIn(ALERT_FORMATS)
  format?: AlertFormat;

  @ApiProperty({ enum: ALERT_EVENTS, isArray: true, minItems: 1, uniqueItems: true, description: 'The events it receives.' })
  @IsIn(ALERT_EVENTS, { each: true })
  @ArrayMinSize(1)
  @ArrayMaxSize(ALERT_EVENTS.length)
  @ArrayUnique()
  events!: AlertEvent[];

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** PATCH /api/alerts/webhooks/{id}: any of the fields; absent fields stay; `secret: null` removes it. */
export class UpdateAlertWebhookDto extends PartialType(CreateAlertWebhookDto) {}

/** GET /api/alerts/deliveries. */
export class DeliveriesQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: "Only this webhook's deliveries." })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  webhook_id?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 100, description: 'The newest this many.' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}
