import { Body, Controller, Delete, Get, HttpCode, Param, ParseIntPipe, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { redactUrl } from '@llmproxy/audit';
import type { UpstreamView } from '@llmproxy/api-types';
import { Scheduler, UpstreamPool, UpstreamRegistry, type UpstreamConfig, type UpstreamState } from '@llmproxy/upstreams';
import { ApiErrors } from '../../common/openapi/error-body.js';
import { CreateUpstreamDto, UpdateUpstreamDto } from './upstream.dto.js';
import { UpstreamViewSchema } from './upstream.schema.js';

/**
 * The Ollama servers (DESIGN.md §9): list with health, add, edit, disable, remove. The list is in
 * the database (every replica routes over it); each write is audited and re-read at once here
 * (other replicas within UPSTREAM_POLL_S).
 */
@ApiTags('upstreams')
@Controller('api/upstreams')
export class UpstreamsController {
  constructor(
    private readonly registry: UpstreamRegistry,
    private readonly pool: UpstreamPool,
    private readonly scheduler: Scheduler,
  ) {}

  @Get()
  @ApiOkResponse({ type: UpstreamViewSchema, isArray: true })
  async list(): Promise<UpstreamView[]> {
    return (await this.registry.list()).map((config) => this.view(config));
  }

  @Post()
  @ApiCreatedResponse({ type: UpstreamViewSchema })
  @ApiErrors(400, 409)
  async create(@Body() dto: CreateUpstreamDto): Promise<UpstreamView> {
    const created = await this.registry.create({ name: dto.name, url: dto.url, enabled: dto.enabled, maxParallel: dto.max_parallel, priority: dto.priority, reservedSlots: dto.reserved_slots });
    await this.pool.refresh();
    return this.view(created);
  }

  @Patch(':id')
  @ApiOkResponse({ type: UpstreamViewSchema })
  @ApiErrors(400, 404, 409)
  async update(@Param('id', ParseIntPipe) id: number, @Body() dto: UpdateUpstreamDto): Promise<UpstreamView> {
    const updated = await this.registry.update(id, { name: dto.name, url: dto.url, enabled: dto.enabled, maxParallel: dto.max_parallel, priority: dto.priority, reservedSlots: dto.reserved_slots });
    await this.pool.refresh();
    return this.view(updated);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Removed.' })
  @ApiErrors(400, 404)
  async remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    await this.registry.remove(id);
    await this.pool.refresh();
  }

  private view(config: UpstreamConfig): UpstreamView {
    const state = this.pool.find(config.id);
    const breaker = state?.breaker.state(Date.now()) ?? 'closed';
    const health = healthOf(config, state);
    return {
      id: config.id,
      name: config.name,
      url: redactUrl(config.url),
      enabled: config.enabled,
      max_parallel: config.maxParallel,
      priority: config.priority,
      reserved_slots: config.reservedSlots ?? 0,
      status: {
        health,
        breaker,
        last_poll_at: state?.lastPollAt ? new Date(state.lastPollAt).toISOString() : null,
        models: state ? state.tags.map((tag) => tag.name) : [],
        loaded: state ? [...state.loaded] : [],
        in_flight: state?.inFlight ?? 0,
        queued: state ? this.scheduler.waitingFor(state) : 0,
        served: state?.served ?? 0,
        failovers: state?.failovers ?? 0,
        recent_errors: state ? [...state.incidents] : [],
      },
    };
  }
}

/** `up`: its last poll answered and its breaker is not open; `down`: out of rotation; `unknown`: not polled yet; `disabled`. */
export function healthOf(config: UpstreamConfig, state: UpstreamState | undefined): UpstreamView['status']['health'] {
  if (!config.enabled) return 'disabled';
  if (!state?.lastPollAt) return 'unknown';
  return state.lastPollOk && state.breaker.state(Date.now()) !== 'open' ? 'up' : 'down';
}
