import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Patch, Post, Query } from '@nestjs/common';
import type { AlertDeliveryView, AlertWebhookView } from '@llmproxy/api-types';
import { AlertWebhooksService } from './alert-webhooks.service.js';
import { CreateAlertWebhookDto, DeliveriesQueryDto, UpdateAlertWebhookDto } from './alert-webhook.dto.js';

/** Alert webhooks and their deliveries: reads for every role, writes (and "send test") for admins (the guard's default). */
@Controller('api/alerts')
export class AlertsController {
  constructor(private readonly webhooks: AlertWebhooksService) {}

  @Get('webhooks')
  list(): Promise<AlertWebhookView[]> {
    return this.webhooks.list();
  }

  @Post('webhooks')
  create(@Body() dto: CreateAlertWebhookDto): Promise<AlertWebhookView> {
    return this.webhooks.create(dto);
  }

  @Patch('webhooks/:id')
  update(@Param('id', ParseIntPipe) id: number, @Body() dto: UpdateAlertWebhookDto): Promise<AlertWebhookView> {
    return this.webhooks.update(id, dto);
  }

  @Delete('webhooks/:id')
  @HttpCode(204)
  async remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    await this.webhooks.remove(id);
  }

  /** Queues a `test` delivery; 202 with the delivery (its outcome: GET /api/alerts/deliveries). */
  @Post('webhooks/:id/test')
  @HttpCode(202)
  test(@Param('id', ParseIntPipe) id: number): Promise<AlertDeliveryView> {
    return this.webhooks.test(id);
  }

  @Get('deliveries')
  deliveries(@Query() query: DeliveriesQueryDto): Promise<AlertDeliveryView[]> {
    return this.webhooks.deliveries({ webhookId: query.webhook_id, limit: query.limit });
  }
}
