import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type winston from 'winston';
import { QuotaService } from '@llmproxy/quota';
import { APP_LOGGER } from '../../core/shared-resources.js';

const INTERVAL_MS = 60_000;

/**
 * Once a minute: renews this process's reservations in flight and releases reservations whose
 * process died (kill -9, power loss) once they expire, so no key stays blocked by a ghost.
 */
@Injectable()
export class QuotaMaintenance implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly quota: QuotaService,
    @Inject(APP_LOGGER) private readonly logger: winston.Logger,
  ) {}

  onApplicationBootstrap(): void {
    void this.run();
    this.timer = setInterval(() => void this.run(), INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async run(): Promise<void> {
    try {
      const { released } = await this.quota.maintain();
      if (released > 0) this.logger.warn(`released ${released} expired quota reservation(s) of a process that stopped`, { context: 'QuotaMaintenance' });
    } catch (error) {
      this.logger.warn('quota maintenance failed; retrying in a minute', { context: 'QuotaMaintenance', error: String(error) });
    }
  }
}
