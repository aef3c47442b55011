import { Inject, Injectable } from '@nestjs/common';
import type winston from 'winston';
import type { Dialect } from '@llmproxy/dialects';
import { UsageLog, type UsageRecord } from '@llmproxy/metering';
import { QuotaService } from '@llmproxy/quota';
import { GatewayMetrics } from '../../core/metrics.js';
import { APP_LOGGER } from '../../core/shared-resources.js';
import type { Metering, ProxyRequest } from '../proxy-request.js';
import { chargedTokens } from './charged-tokens.js';

/**
 * Turns what was metered into the charge (the rule is in the README's quota section):
 * - Ollama's counts when it sent them; otherwise estimates (the prompt estimate, tiktoken over the
 *   generated text), marked as such;
 * - a request that reached Ollama is charged at least its prompt, unless Ollama refused it before
 *   evaluating anything (an error status instead of an answer) — an abort just before the first
 *   token, a timeout, a legacy /api/embeddings
 *   answer without counts, a timeout: the server did the prompt's work;
 * - a request that never reached Ollama (unreachable, refused by the gateway) costs no tokens, and
 *   one refused before admission is not counted as a request either (it holds no reservation).
 * Writes the usage log line too, so every inference route of every dialect logs in one place, with
 * the status the client got.
 */
@Injectable()
export class UsageSettler {
  constructor(
    private readonly quota: QuotaService,
    private readonly usageLog: UsageLog,
    private readonly metrics: GatewayMetrics,
    @Inject(APP_LOGGER) private readonly logger: winston.Logger,
  ) {}

  settle(request: ProxyRequest, dialect: Dialect): void {
    const metering: Metering = request.metering ?? {
      model: null,
      stream: false,
      // Refused before the forwarder ran (validation, allow-list, model, quota) or failed in it early.
      status: request.refusedStatus ?? 500,
      outcome: request.quota ? 'upstream_error' : 'refused',
      generated: '',
      producedOutput: false,
      evaluated: false,
    };
    const billable = metering.producedOutput || metering.evaluated;
    const charged = billable ? chargedTokens(request, metering) : { prompt: 0, completion: 0, exact: true };
    const { prompt: promptTokens, completion: completionTokens, exact } = charged;
    const model = metering.model ?? (typeof request.json?.model === 'string' ? request.json.model : 'unknown');
    const failed = metering.outcome !== 'ok';
    const upstream = metering.upstream ?? null;

    const reservation = request.quota?.reservation;
    if (reservation) {
      const bucketStart = new Date();
      bucketStart.setUTCMinutes(0, 0, 0);
      this.quota
        .settle(reservation, { promptTokens, completionTokens, exact, model, failed, bucketStart, upstream })
        .catch((error: unknown) =>
          // The reservation stays in the table and expires: its tokens are released, never charged twice.
          this.logger.error('could not settle a reservation; it will expire', { context: 'UsageSettler', requestId: request.requestId, error: String(error) }),
        );
    }

    const key = request.apiKey;
    if (key && billable) this.metrics.charged(key.name, model, promptTokens, completionTokens);
    const record: UsageRecord = {
      time: new Date().toISOString(),
      request_id: request.requestId,
      key_id: key?.id ?? null,
      key_name: key?.name ?? null,
      dialect,
      route: request.path,
      model,
      status: metering.status,
      stream: metering.stream,
      duration_ms: Date.now() - request.startedAt,
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      tokens_exact: exact,
      outcome: metering.outcome,
      upstream,
    };
    try {
      this.usageLog.record(record);
    } catch (error) {
      this.logger.error('could not write a usage record', { context: 'UsageSettler', error: String(error) });
    }
  }
}
