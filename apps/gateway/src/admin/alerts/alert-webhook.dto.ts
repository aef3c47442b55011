import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUrl, Max, MaxLength, Min, MinLength, ValidateIf } from 'class-validator';
import { ALERT_EVENTS, ALERT_FORMATS, type AlertEvent, type AlertFormat } from '@llmproxy/api-types';

const URL_OPTIONS = { protocols: ['http', 'https'], require_protocol: true, require_tld: false };

/** POST /api/alerts/webhooks. */
export class CreateAlertWebhookDto {
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name!: string;

  @IsUrl(URL_OPTIONS, { message: 'url must be an http(s) URL' })
  @MaxLength(2000)
  url!: string;

  /** Write-only; null or absent: bodies are not signed. */
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsString()
  @MinLength(8)
  @MaxLength(500)
  secret?: string | null;

  @IsOptional()
  @IsIn(ALERT_FORMATS)
  format?: AlertFormat;

  @IsIn(ALERT_EVENTS, { each: true })
  @ArrayMinSize(1)
  @ArrayMaxSize(ALERT_EVENTS.length)
  @ArrayUnique()
  events!: AlertEvent[];

  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** PATCH /api/alerts/webhooks/{id}: absent fields stay; `secret: null` removes it. */
export class UpdateAlertWebhookDto {
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name?: string;

  @IsOptional()
  @IsUrl(URL_OPTIONS, { message: 'url must be an http(s) URL' })
  @MaxLength(2000)
  url?: string;

  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsString()
  @MinLength(8)
  @MaxLength(500)
  secret?: string | null;

  @IsOptional()
  @IsIn(ALERT_FORMATS)
  format?: AlertFormat;

  @IsOptional()
  @IsIn(ALERT_EVENTS, { each: true })
  @ArrayMinSize(1)
  @ArrayMaxSize(ALERT_EVENTS.length)
  @ArrayUnique()
  events?: AlertEvent[];

  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** GET /api/alerts/deliveries. */
export class DeliveriesQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  webhook_id?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}
