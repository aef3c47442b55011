import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { ALERT_EVENTS, ALERT_FORMATS, type AlertDeliveryStatus, type AlertDeliveryView, type AlertEvent, type AlertFormat, type AlertWebhookView } from '@llmproxy/api-types';

/** The answers of /api/alerts, as OpenAPI schemas; `implements` keeps them to libs/api-types' interfaces. */
@ApiSchema({ name: 'AlertWebhook', description: 'A webhook alerts go to; never its secret, only whether it has one.' })
export class AlertWebhookSchema implements AlertWebhookView {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty()
  name!: string;

  @ApiProperty({ format: 'uri' })
  url!: string;

  @ApiProperty({ enum: ALERT_FORMATS })
  format!: AlertFormat;

  @ApiProperty({ enum: ALERT_EVENTS, isArray: true })
  events!: AlertEvent[];

  @ApiProperty()
  enabled!: boolean;

  @ApiProperty({ description: 'Whether bodies are signed (X-Llmproxy-Signature).' })
  has_secret!: boolean;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ format: 'date-time' })
  updated_at!: string;
}

@ApiSchema({ name: 'AlertDelivery', description: 'One event for one webhook: its attempts, the next one, how the last one went.' })
export class AlertDeliverySchema implements AlertDeliveryView {
  @ApiProperty({ type: 'integer' })
  id!: number;

  @ApiProperty({ type: 'integer' })
  webhook_id!: number;

  @ApiProperty({ type: String, nullable: true })
  webhook_name!: string | null;

  @ApiProperty({ enum: ALERT_EVENTS })
  event!: AlertEvent;

  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] satisfies AlertDeliveryStatus[] })
  status!: AlertDeliveryStatus;

  @ApiProperty({ type: 'integer', description: 'Attempts made so far (at most 5).' })
  attempts!: number;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the next attempt is due (pending only).' })
  next_attempt_at!: string | null;

  @ApiProperty({ type: String, nullable: true, description: "The last failed attempt's error: an HTTP status or a network error." })
  last_error!: string | null;

  @ApiProperty({ type: 'integer', nullable: true, description: "The last attempt's HTTP status (null: no answer)." })
  last_status!: number | null;

  @ApiProperty({ description: "The event's one-line summary." })
  summary!: string;

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ format: 'date-time' })
  updated_at!: string;
}
