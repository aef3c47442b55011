import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable, SetMetadata } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '@llmproxy/config';

export const ACCEPTS_METRICS_TOKEN = 'llmproxy:accepts-metrics-token';

/** The route also admits `Authorization: Bearer <METRICS_TOKEN>` (a scraper), besides the admin credentials. */
export const AcceptsMetricsToken = () => SetMetadata(ACCEPTS_METRICS_TOKEN, true);

/** METRICS_TOKEN, kept as its digest and compared in constant time; never matches when unset. */
@Injectable()
export class MetricsToken {
  private readonly expected: Buffer | undefined;

  constructor(config: ConfigService<AppConfig, true>) {
    const token = config.get('metricsToken', { infer: true });
    this.expected = token === undefined ? undefined : digest(token);
  }

  matches(candidate: string): boolean {
    return this.expected !== undefined && timingSafeEqual(digest(candidate), this.expected);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
