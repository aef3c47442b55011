import { aggregate, bucketOf, parseDay, startOfLocalDay, type RollupRow } from './usage-buckets.js';

const BERLIN = 'Europe/Berlin';

function row(bucketStart: string, requests = 1, keyId = 1, model = 'llama3.2'): RollupRow {
  return { keyId, keyName: `key ${keyId}`, model, bucketStart: new Date(bucketStart), requests, promptTokens: 10 * requests, completionTokens: 5 * requests, estimatedRequests: 0, failedRequests: 0 };
}

describe('usage buckets in APP_TZ', () => {
  it('parses only real dates', () => {
    expect(parseDay('2026-03-29')).toBe(Date.UTC(2026, 2, 29) / 86_400_000);
    expect(parseDay('2026-02-30')).toBeUndefined();
    expect(parseDay('2026-3-29')).toBeUndefined();
    expect(parseDay('yesterday')).toBeUndefined();
  });

  it('puts the 23 hours of 2026-03-29 (spring forward) in one Berlin day', () => {
    const day = parseDay('2026-03-29')!;
    expect(startOfLocalDay(day, BERLIN).toISOString()).toBe('2026-03-28T23:00:00.000Z');
    expect(startOfLocalDay(day + 1, BERLIN).toISOString()).toBe('2026-03-29T22:00:00.000Z');
    const hours = Array.from({ length: 23 }, (_, i) => new Date(Date.UTC(2026, 2, 28, 23 + i)).toISOString());
    const series = aggregate([row('2026-03-28T22:00:00Z', 100), ...hours.map((h) => row(h)), row('2026-03-29T22:00:00Z', 1000)], 'day', BERLIN);
    expect(series.map((p) => [p.bucket, p.requests])).toEqual([
      ['2026-03-28T00:00:00+01:00', 100],
      ['2026-03-29T00:00:00+01:00', 23],
      ['2026-03-30T00:00:00+02:00', 1000],
    ]);
  });

  it('puts the 25 hours of 2026-10-25 (fall back) in one Berlin day, and keeps the repeated hour apart hourly', () => {
    const hours = Array.from({ length: 25 }, (_, i) => new Date(Date.UTC(2026, 9, 24, 22 + i)).toISOString());
    const daily = aggregate(hours.map((h) => row(h)), 'day', BERLIN);
    expect(daily).toEqual([expect.objectContaining({ bucket: '2026-10-25T00:00:00+02:00', requests: 25, prompt_tokens: 250, completion_tokens: 125 })]);
    const hourly = aggregate(hours.map((h) => row(h)), 'hour', BERLIN);
    expect(hourly).toHaveLength(25);
    expect(hourly.slice(2, 4).map((p) => p.bucket)).toEqual(['2026-10-25T02:00:00+02:00', '2026-10-25T02:00:00+01:00']);
  });

  it('sums per bucket, key and model, ordered by bucket, key, model', () => {
    const series = aggregate(
      [row('2026-11-26T10:00:00Z', 1, 2), row('2026-11-26T09:00:00Z', 1, 1, 'qwen3:4b'), row('2026-11-26T08:00:00Z', 2, 1), row('2026-11-25T08:00:00Z', 1, 1)],
      'day',
      BERLIN,
    );
    expect(series.map((p) => [p.bucket, p.key_id, p.model, p.requests])).toEqual([
      ['2026-11-25T00:00:00+01:00', 1, 'llama3.2', 1],
      ['2026-11-26T00:00:00+01:00', 1, 'llama3.2', 2],
      ['2026-11-26T00:00:00+01:00', 1, 'qwen3:4b', 1],
      ['2026-11-26T00:00:00+01:00', 2, 'llama3.2', 1],
    ]);
  });

  it('starts local hours at the half hour in a +05:30 zone', () => {
    expect(new Date(bucketOf(Date.UTC(2026, 0, 1, 18), 'hour', 'Asia/Kolkata')).toISOString()).toBe('2026-01-01T17:30:00.000Z');
  });
});
