import type { ChartData } from 'chart.js';
import type { UsageResponse, UsageRow } from '../../api/admin-api.types';

export type SplitBy = 'none' | 'key' | 'model';

/** Colours for the stacked series, cycled; readable on white. */
const PALETTE = ['#3f51b5', '#009688', '#ff9800', '#9c27b0', '#795548', '#e91e63', '#607d8b', '#8bc34a', '#00bcd4', '#ffc107'];

/** Every bucket of the range, so days without traffic show as zero rather than vanishing. */
export function bucketsOf(response: Pick<UsageResponse, 'from' | 'to' | 'granularity' | 'series'>): string[] {
  if (response.granularity === 'day' && /^\d{4}-\d{2}-\d{2}$/.test(response.from) && /^\d{4}-\d{2}-\d{2}$/.test(response.to)) {
    const days: string[] = [];
    const end = Date.parse(`${response.to}T00:00:00Z`);
    for (let t = Date.parse(`${response.from}T00:00:00Z`); t <= end && days.length < 1000; t += 86_400_000) {
      days.push(new Date(t).toISOString().slice(0, 10));
    }
    return days;
  }
  return [...new Set(response.series.map((row) => bucketKey(row.bucket, response.granularity)))].sort();
}

/** A day bucket may come as `2025-03-30` or as the instant the day starts; both name the same day. */
export function bucketKey(bucket: string, granularity: 'day' | 'hour'): string {
  return granularity === 'day' ? bucket.slice(0, 10) : bucket;
}

function groupOf(row: UsageRow, split: SplitBy): string {
  if (split === 'key') return row.key_name ?? (row.key_id !== null ? `key #${row.key_id}` : '(no key)');
  if (split === 'model') return row.model;
  return 'Tokens';
}

/** The series that gathers the models that never answered, when they carry any tokens at all. */
export const FAILED_ONLY = 'models with no successful request';

/**
 * Models that had no successful request in the range get no legend entry of their own: they are
 * mostly names clients made up or mistyped (`no-such-model`, a vendor name no alias matched), each
 * with no tokens. Their requests still count in the Requests line; tokens they did carry (a stream
 * cut off) go into one FAILED_ONLY series, and the table below the chart still names each of them.
 */
function failedOnlyModels(series: UsageRow[]): Set<string> {
  const succeeded = new Map<string, boolean>();
  for (const row of series) succeeded.set(row.model, (succeeded.get(row.model) ?? false) || row.requests > row.failed_requests);
  return new Set([...succeeded].filter(([, ok]) => !ok).map(([model]) => model));
}

/** Tokens as bars stacked per key or model, requests as a line on its own axis. */
export function chartData(response: UsageResponse, split: SplitBy): ChartData<'bar' | 'line', number[], string> {
  const buckets = bucketsOf(response);
  const index = new Map(buckets.map((bucket, i) => [bucket, i]));
  const failedOnly = split === 'model' ? failedOnlyModels(response.series) : new Set<string>();
  const tokens = new Map<string, number[]>();
  const requests = buckets.map(() => 0);
  for (const row of response.series) {
    const i = index.get(bucketKey(row.bucket, response.granularity));
    if (i === undefined) continue;
    requests[i] += row.requests;
    const rowTokens = row.prompt_tokens + row.completion_tokens;
    const group = failedOnly.has(row.model) ? FAILED_ONLY : groupOf(row, split);
    if (group === FAILED_ONLY && rowTokens === 0 && !tokens.has(FAILED_ONLY)) continue;
    if (!tokens.has(group)) tokens.set(group, buckets.map(() => 0));
    tokens.get(group)![i] += rowTokens;
  }
  if (tokens.get(FAILED_ONLY)?.every((n) => n === 0)) tokens.delete(FAILED_ONLY);
  // The gathered series comes last among the bars, after the real models in order.
  const groups = [...tokens.keys()].filter((group) => group !== FAILED_ONLY).sort();
  if (tokens.has(FAILED_ONLY)) groups.push(FAILED_ONLY);
  return {
    labels: buckets.map((bucket) => (response.granularity === 'day' ? bucket.slice(5) : bucket.slice(5, 16).replace('T', ' '))),
    datasets: [
      ...groups.map((group, i) => ({
        type: 'bar' as const,
        label: split === 'none' ? 'Tokens' : `${group} (tokens)`,
        data: tokens.get(group)!,
        stack: 'tokens',
        yAxisID: 'tokens',
        backgroundColor: group === FAILED_ONLY ? '#9e9e9e' : PALETTE[i % PALETTE.length],
      })),
      {
        type: 'line' as const,
        label: 'Requests',
        data: requests,
        yAxisID: 'requests',
        borderColor: '#d32f2f',
        backgroundColor: '#d32f2f',
        // Monotone: the curve never passes above a peak or below zero between two days (a plain tension did).
        cubicInterpolationMode: 'monotone' as const,
        pointRadius: 2,
      },
    ],
  };
}

/** Sums per key and model over the whole range, largest first. */
export interface BreakdownRow {
  key: string;
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  failed_requests: number;
  estimated_requests: number;
}

export function breakdown(series: UsageRow[]): BreakdownRow[] {
  const rows = new Map<string, BreakdownRow>();
  for (const row of series) {
    const key = groupOf(row, 'key');
    const id = `${key}\u0000${row.model}`;
    const sum = rows.get(id) ?? { key, model: row.model, requests: 0, prompt_tokens: 0, completion_tokens: 0, failed_requests: 0, estimated_requests: 0 };
    sum.requests += row.requests;
    sum.prompt_tokens += row.prompt_tokens;
    sum.completion_tokens += row.completion_tokens;
    sum.failed_requests += row.failed_requests;
    sum.estimated_requests += row.estimated_requests;
    rows.set(id, sum);
  }
  return [...rows.values()].sort((a, b) => b.prompt_tokens + b.completion_tokens - (a.prompt_tokens + a.completion_tokens) || b.requests - a.requests);
}
