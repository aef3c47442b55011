import type { Granularity, UsageRow as UsagePoint, UsageTotals } from '@llmproxy/api-types';
import { formatLocal, instantOfLocalWall, offsetAt } from '@llmproxy/quota';

/**
 * Turning the hourly UTC rollup into local days or hours of APP_TZ. Pure: no Nest, no I/O.
 * A local day runs from local midnight to the next (23 or 25 hours at DST changes); an hourly UTC
 * row belongs to the local day or hour it starts in (zones with half-hour offsets split no rows).
 */

export type { Granularity, UsagePoint, UsageTotals };

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** One usage_rollup row: an hour starting at `bucketStart` (UTC), one key, one model. */
export interface RollupRow {
  keyId: number;
  /** null once the key has been deleted (its history stays). */
  keyName: string | null;
  model: string;
  bucketStart: Date;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  estimatedRequests: number;
  failedRequests: number;
}



/** Days since 1970-01-01 of a real calendar date `YYYY-MM-DD`, or undefined. */
export function parseDay(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const t = Date.UTC(year, month - 1, day);
  const date = new Date(t);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return t / DAY_MS;
}

export function formatDay(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

/** The local date (days since 1970-01-01) of an instant in `timeZone`. */
export function localDay(instant: Date, timeZone: string): number {
  const t = instant.getTime();
  return Math.floor((t + offsetAt(t, timeZone)) / DAY_MS);
}

/** First instant of a local date in `timeZone`. */
export function startOfLocalDay(days: number, timeZone: string): Date {
  return new Date(instantOfLocalWall(days * DAY_MS, timeZone));
}

/** Start (epoch ms) of the local day or hour containing `t`. */
export function bucketOf(t: number, granularity: Granularity, timeZone: string): number {
  const local = t + offsetAt(t, timeZone);
  if (granularity === 'day') return instantOfLocalWall(Math.floor(local / DAY_MS) * DAY_MS, timeZone);
  return t - (local - Math.floor(local / HOUR_MS) * HOUR_MS);
}

/** Sums rollup rows per local bucket, key and model; ordered by bucket, key id, model. */
export function aggregate(rows: readonly RollupRow[], granularity: Granularity, timeZone: string): UsagePoint[] {
  const bucketCache = new Map<number, number>(); // many rows share an hour
  const points = new Map<string, { start: number; point: UsagePoint }>();
  for (const row of rows) {
    const hour = row.bucketStart.getTime();
    let start = bucketCache.get(hour);
    if (start === undefined) {
      start = bucketOf(hour, granularity, timeZone);
      bucketCache.set(hour, start);
    }
    const id = `${start}\u0000${row.keyId}\u0000${row.model}`;
    let entry = points.get(id);
    if (!entry) {
      entry = {
        start,
        point: {
          bucket: formatLocal(new Date(start), timeZone),
          key_id: row.keyId,
          key_name: row.keyName,
          model: row.model,
          requests: 0,
          prompt_tokens: 0,
          completion_tokens: 0,
          estimated_requests: 0,
          failed_requests: 0,
        },
      };
      points.set(id, entry);
    }
    const point = entry.point;
    point.requests += row.requests;
    point.prompt_tokens += row.promptTokens;
    point.completion_tokens += row.completionTokens;
    point.estimated_requests += row.estimatedRequests;
    point.failed_requests += row.failedRequests;
  }
  return [...points.values()]
    .sort((a, b) => a.start - b.start || a.point.key_id - b.point.key_id || (a.point.model < b.point.model ? -1 : a.point.model > b.point.model ? 1 : 0))
    .map((entry) => entry.point);
}

export function totalsOf(series: readonly UsagePoint[]): UsageTotals {
  const totals: UsageTotals = { requests: 0, prompt_tokens: 0, completion_tokens: 0 };
  for (const point of series) {
    totals.requests += point.requests;
    totals.prompt_tokens += point.prompt_tokens;
    totals.completion_tokens += point.completion_tokens;
  }
  return totals;
}
