import type { UsageByUpstream, UsageResponse as UsageReport } from '@llmproxy/api-types';
import { BadRequestException, Injectable } from '@nestjs/common';
import { SqlClient, readTimestamp, type SqlParam } from '@llmproxy/persistence';
import { NO_UPSTREAM, QuotaService } from '@llmproxy/quota';
import { aggregate, formatDay, localDay, parseDay, startOfLocalDay, totalsOf, type Granularity, type RollupRow, type UsagePoint, type UsageTotals } from './usage-buckets.js';

/** The longest range one report covers, in days. */
export const MAX_RANGE_DAYS = 366;
/** Default range: the last 30 local days, today included. */
const DEFAULT_RANGE_DAYS = 30;

export interface UsageQuery {
  from?: string;
  to?: string;
  granularity?: Granularity;
  keyId?: number;
  model?: string;
}

export type { UsageReport };

export const CSV_COLUMNS = [
  'bucket',
  'key_id',
  'key_name',
  'model',
  'requests',
  'prompt_tokens',
  'completion_tokens',
  'estimated_requests',
  'failed_requests',
] as const satisfies readonly (keyof UsagePoint)[];

/** Usage over time per key and model, from the hourly rollup, in local days or hours of APP_TZ. */
@Injectable()
export class UsageReportService {
  readonly timeZone: string;

  constructor(
    private readonly sql: SqlClient,
    quota: QuotaService,
  ) {
    this.timeZone = quota.timeZone;
  }

  async report(query: UsageQuery, now = new Date()): Promise<UsageReport> {
    const granularity = query.granularity ?? 'day';
    const { fromDay, toDay } = this.range(query, now);
    const start = startOfLocalDay(fromDay, this.timeZone);
    const end = startOfLocalDay(toDay + 1, this.timeZone);
    const [rows, upstreams] = await Promise.all([this.rows(start, end, query), this.upstreams(start, end, query)]);
    const series = aggregate(rows, granularity, this.timeZone);
    return { time_zone: this.timeZone, granularity, from: formatDay(fromDay), to: formatDay(toDay), series, totals: totalsOf(series), upstreams };
  }

  private range(query: UsageQuery, now: Date): { fromDay: number; toDay: number } {
    const day = (field: 'from' | 'to') => {
      const text = query[field];
      if (text === undefined) return undefined;
      const parsed = parseDay(text);
      if (parsed === undefined) throw new BadRequestException(`${field} must be a real date YYYY-MM-DD, not '${text}'`);
      return parsed;
    };
    const from = day('from');
    const to = day('to');
    const toDay = to ?? (from !== undefined ? Math.max(from, localDay(now, this.timeZone)) : localDay(now, this.timeZone));
    const fromDay = from ?? toDay - (DEFAULT_RANGE_DAYS - 1);
    if (fromDay > toDay) throw new BadRequestException('from must not be after to');
    if (toDay - fromDay + 1 > MAX_RANGE_DAYS) throw new BadRequestException(`to: the range from..to must not exceed ${MAX_RANGE_DAYS} days`);
    return { fromDay, toDay };
  }

  /** The range per upstream, from `usage_upstream_rollup` (same filters); the rows of no upstream last, as null. */
  private async upstreams(start: Date, end: Date, query: UsageQuery): Promise<UsageByUpstream[]> {
    const { where, params } = this.filters(start, end, query);
    const rows = await this.sql.all(
      `SELECT r.upstream, sum(r.requests) AS requests, sum(r.prompt_tokens) AS prompt_tokens, sum(r.completion_tokens) AS completion_tokens,
        sum(r.failed_requests) AS failed_requests
        FROM usage_upstream_rollup r WHERE ${where} GROUP BY r.upstream`,
      params,
    );
    return rows
      .map((row) => ({
        upstream: row.upstream === NO_UPSTREAM ? null : String(row.upstream),
        requests: Number(row.requests),
        prompt_tokens: Number(row.prompt_tokens),
        completion_tokens: Number(row.completion_tokens),
        failed_requests: Number(row.failed_requests),
      }))
      .sort((a, b) => (a.upstream === null ? 1 : b.upstream === null ? -1 : a.upstream < b.upstream ? -1 : a.upstream > b.upstream ? 1 : 0));
  }

  /** The range and the key and model filters, on a rollup table aliased `r`. */
  private filters(start: Date, end: Date, query: UsageQuery): { where: string; params: SqlParam[] } {
    let where = 'r.bucket_start >= ? AND r.bucket_start < ?';
    const params: SqlParam[] = [this.sql.timestamp(start), this.sql.timestamp(end)];
    if (query.keyId !== undefined) {
      where += ' AND r.api_key_id = ?';
      params.push(query.keyId);
    }
    if (query.model !== undefined) {
      where += ' AND r.model = ?';
      params.push(query.model);
    }
    return { where, params };
  }

  private async rows(start: Date, end: Date, query: UsageQuery): Promise<RollupRow[]> {
    const { where, params } = this.filters(start, end, query);
    const sql = `SELECT r.api_key_id, k.name AS key_name, r.model, r.bucket_start, r.requests, r.prompt_tokens, r.completion_tokens,
      r.estimated_requests, r.failed_requests
      FROM usage_rollup r LEFT JOIN api_keys k ON k.id = r.api_key_id
      WHERE ${where}`;
    const rows = await this.sql.all(sql, params);
    return rows.map((row) => ({
      keyId: Number(row.api_key_id),
      keyName: row.key_name == null ? null : String(row.key_name),
      model: String(row.model),
      bucketStart: readTimestamp(row.bucket_start)!,
      requests: Number(row.requests),
      promptTokens: Number(row.prompt_tokens),
      completionTokens: Number(row.completion_tokens),
      estimatedRequests: Number(row.estimated_requests),
      failedRequests: Number(row.failed_requests),
    }));
  }
}
