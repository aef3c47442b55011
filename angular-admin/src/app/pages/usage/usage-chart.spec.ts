import type { UsageResponse, UsageRow } from '../../api/admin-api.types';
import { breakdown, bucketsOf, chartData } from './usage-chart';

function row(overrides: Partial<UsageRow>): UsageRow {
  return { bucket: '2025-03-29', key_id: 1, key_name: 'ci', model: 'qwen3:8b', requests: 1, prompt_tokens: 10, completion_tokens: 5, estimated_requests: 0, failed_requests: 0, ...overrides };
}

const RESPONSE: UsageResponse = {
  time_zone: 'Europe/Berlin',
  granularity: 'day',
  from: '2025-03-28',
  to: '2025-03-31',
  series: [
    row({ bucket: '2025-03-29', model: 'qwen3:8b', requests: 2, prompt_tokens: 100, completion_tokens: 50 }),
    row({ bucket: '2025-03-29T00:00:00+01:00', model: 'llama3.2', key_id: 2, key_name: 'dev', requests: 1, prompt_tokens: 10, completion_tokens: 10 }),
    row({ bucket: '2025-03-31', model: 'qwen3:8b', requests: 3, prompt_tokens: 30, completion_tokens: 0 }),
  ],
  totals: { requests: 6, prompt_tokens: 140, completion_tokens: 60 },
  upstreams: [],
};

describe('usage chart data', () => {
  it('lists every day of the range, across a DST change', () => {
    expect(bucketsOf(RESPONSE)).toEqual(['2025-03-28', '2025-03-29', '2025-03-30', '2025-03-31']);
  });

  it('stacks tokens per model with requests as a line', () => {
    const data = chartData(RESPONSE, 'model');
    expect(data.labels).toEqual(['03-28', '03-29', '03-30', '03-31']);
    expect(data.datasets.map((d) => d.label)).toEqual(['llama3.2 (tokens)', 'qwen3:8b (tokens)', 'Requests']);
    expect(data.datasets[0].data).toEqual([0, 20, 0, 0]);
    expect(data.datasets[1].data).toEqual([0, 150, 0, 30]);
    expect(data.datasets[2].data).toEqual([0, 3, 0, 3]);
  });

  it('stacks per key, or totals', () => {
    expect(chartData(RESPONSE, 'key').datasets.map((d) => d.label)).toEqual(['ci (tokens)', 'dev (tokens)', 'Requests']);
    expect(chartData(RESPONSE, 'none').datasets[0].data).toEqual([0, 170, 0, 30]);
  });

  it('sums per key and model, largest first', () => {
    expect(breakdown(RESPONSE.series).map((r) => [r.key, r.model, r.requests, r.prompt_tokens + r.completion_tokens])).toEqual([
      ['ci', 'qwen3:8b', 5, 180],
      ['dev', 'llama3.2', 1, 20],
    ]);
  });

  it('draws requests as a line that cannot overshoot its points', () => {
    const line = chartData(RESPONSE, 'model').datasets.at(-1)!;
    expect(line.label).toBe('Requests');
    // A monotone curve stays between neighbouring points: no bump above a peak, no dip below zero.
    expect(line).toMatchObject({ cubicInterpolationMode: 'monotone' });
  });

  it('gives no legend entry of its own to a model that never answered, and counts its requests in the line', () => {
    const failing: UsageResponse = {
      ...RESPONSE,
      series: [
        ...RESPONSE.series,
        row({ bucket: '2025-03-29', model: 'no-such-model:latest', requests: 2, prompt_tokens: 0, completion_tokens: 0, failed_requests: 2 }),
        row({ bucket: '2025-03-30', model: 'claude-x:latest', requests: 1, prompt_tokens: 0, completion_tokens: 0, failed_requests: 1 }),
        // Failed once but answered once: a real model, kept.
        row({ bucket: '2025-03-30', model: 'llama3.2', requests: 1, prompt_tokens: 0, completion_tokens: 0, failed_requests: 1 }),
      ],
    };
    const data = chartData(failing, 'model');
    expect(data.datasets.map((d) => d.label)).toEqual(['llama3.2 (tokens)', 'qwen3:8b (tokens)', 'Requests']);
    expect(data.datasets.at(-1)!.data).toEqual([0, 5, 2, 3]);
    // Tokens of failed-only models (a stream cut off) are kept, under one entry.
    const partial = chartData({ ...failing, series: [...failing.series, row({ bucket: '2025-03-31', model: 'gone:latest', requests: 1, prompt_tokens: 7, completion_tokens: 1, failed_requests: 1 })] }, 'model');
    expect(partial.datasets.map((d) => d.label)).toEqual(['llama3.2 (tokens)', 'qwen3:8b (tokens)', 'models with no successful request (tokens)', 'Requests']);
    expect(partial.datasets[2]!.data).toEqual([0, 0, 0, 8]);
  });
});
