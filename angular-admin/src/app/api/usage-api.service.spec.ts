import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { UsageApi } from './usage-api.service';

describe('UsageApi', () => {
  let http: HttpTestingController;
  let api: UsageApi;

  beforeEach(() => {
    ({ http } = setUpApi());
    api = TestBed.inject(UsageApi);
  });

  afterEach(() => http.verify());

  it('queries GET /api/usage with the range and granularity, and without absent filters', () => {
    capture(api.get({ from: '2025-03-01', to: '2025-03-30', granularity: 'day', key_id: null, model: null }));
    const request = http.expectOne((r) => r.url === '/api/usage');
    expect(request.request.method).toBe('GET');
    expect(request.request.urlWithParams).toBe('/api/usage?from=2025-03-01&to=2025-03-30&granularity=day');
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush({ time_zone: 'Europe/Berlin', granularity: 'day', from: '2025-03-01', to: '2025-03-30', series: [], totals: { requests: 0, prompt_tokens: 0, completion_tokens: 0 } });
  });

  it('passes key and model filters', () => {
    capture(api.get({ from: '2025-03-01', to: '2025-03-30', granularity: 'hour', key_id: 3, model: 'qwen3:8b' }));
    const request = http.expectOne((r) => r.url === '/api/usage');
    expect(request.request.params.get('key_id')).toBe('3');
    expect(request.request.params.get('model')).toBe('qwen3:8b');
    expect(request.request.params.get('granularity')).toBe('hour');
    request.flush({});
  });

  it('downloads GET /api/usage.csv as a blob with the token, named by Content-Disposition', async () => {
    const result = capture(api.csv({ from: '2025-03-01', to: '2025-03-30', granularity: 'day', model: 'qwen3:8b' }));
    const request = http.expectOne((r) => r.url === '/api/usage.csv');
    expect(request.request.method).toBe('GET');
    expect(request.request.responseType).toBe('blob');
    expect(request.request.params.get('model')).toBe('qwen3:8b');
    expect(request.request.params.has('key_id')).toBe(false);
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush(new Blob(['bucket,requests\n2025-03-01,3\n'], { type: 'text/csv' }), {
      headers: { 'Content-Disposition': 'attachment; filename="usage-2025-03-01-2025-03-30.csv"' },
    });
    expect(result.value?.filename).toBe('usage-2025-03-01-2025-03-30.csv');
    expect(await result.value?.blob.text()).toContain('2025-03-01,3');
  });

  it('names the file itself when the server does not', () => {
    const result = capture(api.csv({ from: '2025-03-01', to: '2025-03-30', granularity: 'day' }));
    http.expectOne((r) => r.url === '/api/usage.csv').flush(new Blob(['x']));
    expect(result.value?.filename).toBe('usage-2025-03-01-2025-03-30.csv');
  });
});
