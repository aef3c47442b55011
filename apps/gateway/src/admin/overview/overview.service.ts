import type { KeyNearLimit, Overview } from '@llmproxy/api-types';
import { Injectable } from '@nestjs/common';
import { Scheduler, UpstreamPool, UpstreamRegistry } from '@llmproxy/upstreams';
import { GatewayMetrics } from '../../core/metrics.js';
import { AdminKeysService } from '../keys/admin-keys.service.js';
import { healthOf } from '../upstreams/upstreams.controller.js';
import { formatDay, localDay } from '../usage/usage-buckets.js';
import { UsageReportService } from '../usage/usage-report.service.js';

const KEYS_SHOWN = 5;

/**
 * The first page after login, in one answer: today's totals (the usage report, every replica), this
 * process's last hour (requests per minute, refusals by kind, streams in flight), the Ollama servers,
 * and the keys nearest a limit.
 */
@Injectable()
export class OverviewService {
  constructor(
    private readonly usage: UsageReportService,
    private readonly keys: AdminKeysService,
    private readonly metrics: GatewayMetrics,
    private readonly registry: UpstreamRegistry,
    private readonly pool: UpstreamPool,
    private readonly scheduler: Scheduler,
  ) {}

  async overview(now = new Date()): Promise<Overview> {
    const timeZone = this.usage.timeZone;
    const today = formatDay(localDay(now, timeZone));
    const [report, keys, configs] = await Promise.all([this.usage.report({ from: today, to: today }, now), this.keys.list(), this.registry.list()]);
    const hour = this.metrics.recent.lastHour();
    return {
      time_zone: timeZone,
      today,
      totals_today: report.totals,
      requests_per_minute: hour.perMinute,
      refusals_last_hour: hour.refusals,
      streams_in_flight: this.metrics.streamsInFlight,
      upstreams: configs.map((config) => {
        const state = this.pool.find(config.id);
        return {
          id: config.id,
          name: config.name,
          health: healthOf(config, state),
          loaded: state ? [...state.loaded] : [],
          in_flight: state?.inFlight ?? 0,
          max_parallel: config.maxParallel,
          queued: state ? this.scheduler.waitingFor(state) : 0,
        };
      }),
      keys_near_limits: nearLimits(keys),
    };
  }
}

function nearLimits(keys: Awaited<ReturnType<AdminKeysService['list']>>): KeyNearLimit[] {
  const near: KeyNearLimit[] = [];
  for (const key of keys) {
    if (!key.is_active) continue;
    let worst: KeyNearLimit | undefined;
    for (const window of ['day', 'month'] as const) {
      const usage = key.usage[window];
      const candidates = [
        { kind: 'requests' as const, used: usage.requests, limit: usage.request_limit },
        { kind: 'tokens' as const, used: usage.tokens + usage.reserved_tokens, limit: usage.token_limit },
      ];
      for (const { kind, used, limit } of candidates) {
        if (limit === null || limit <= 0 || used <= 0) continue;
        const share = used / limit;
        if (!worst || share > worst.share) worst = { id: key.id, name: key.name, window, kind, used, limit, share, resets_at: usage.resets_at };
      }
    }
    if (worst) near.push(worst);
  }
  return near.sort((a, b) => b.share - a.share || a.id - b.id).slice(0, KEYS_SHOWN);
}
