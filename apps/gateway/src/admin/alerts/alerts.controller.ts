import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Patch, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { ApiAcceptedResponse, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { AlertDeliveryView, AlertWebhookView } from '@llmproxy/api-types';
import { ApiErrors } from '../../common/openapi/error-body.js';
import { principalOf } from '../auth/admin-principal.js';
import { AlertDeliverySchema, AlertWebhookSchema } from './alert.schema.js';
import { AlertWebhooksService, originOnly } from './alert-webhooks.service.js';
import { CreateAlertWebhookDto, DeliveriesQueryDto, UpdateAlertWebhookDto } from './alert-webhook.dto.js';

/** Alert webhooks and their deliveries: reads for every role, writes (and "send test") for admins (the guard's default). */
@ApiTags('alerts')
@Controller('api/alerts')
export class AlertsController {
  constructor(private readonly webhooks: AlertWebhooksService) {}

  @Get('webhooks')
  @ApiOkResponse({ type: AlertWebhookSchema, isArray: true, description: "A viewer gets each URL as its origin only (`https://hooks.slack.com/…`): a Slack or Teams webhook's path is its credential." })
  async list(@Req() request: Request): Promise<AlertWebhookView[]> {
    const webhooks = await this.webhooks.list();
    if (principalOf(request).role === 'admin') return webhooks;
    return webhooks.map((webhook) => ({ ...webhook, url: originOnly(webhook.url) }));
  }

  @Post('webhooks')
  @ApiCreatedResponse({ type: AlertWebhookSchema })
  @ApiErrors(400)
  create(@Body() dto: CreateAlertWebhookDto): Promise<AlertWebhookView> {
    return this.webhooks.create(dto);
  }

  @Patch('webhooks/:id')
  @ApiOkResponse({ type: AlertWebhookSchema })
  @ApiErrors(400, 404)
  update(@Param('id', ParseIntPipe) id: number, @Body() dto: UpdateAlertWebhookDto): Promise<AlertWebhookView> {
    return this.webhooks.update(id, dto);
  }

  @Delete('webhooks/:id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Removed, with its deliveries.' })
  @ApiErrors(400, 404)
  async remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    await this.webhooks.remove(id);
  }

  /** Queues a `test` delivery; 202 with the delivery (its outcome: GET /api/alerts/deliveries). */
  @Post('webhooks/:id/test')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: AlertDeliverySchema, description: 'The test delivery, queued.' })
  @ApiErrors(400, 404)
  test(@Param('id', ParseIntPipe) id: number): Promise<AlertDeliveryView> {
    return this.webhooks.test(id);
  }

  @Get('deliveries')
  @ApiOkResponse({ type: AlertDeliverySchema, isArray: true })
  @ApiErrors(400)
  deliveries(@Query() query: DeliveriesQueryDto): Promise<AlertDeliveryView[]> {
    return this.webhooks.deliveries({ webhookId: query.webhook_id, limit: query.limit });
  }
}

