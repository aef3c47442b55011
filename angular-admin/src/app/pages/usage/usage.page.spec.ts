import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { vi } from 'vitest';
import { setUpApi } from '../../../testing/api-testing';
import { UsagePage } from './usage.page';

const USAGE = {
  time_zone: 'Europe/Berlin',
  granularity: 'day',
  from: '2025-03-01',
  to: '2025-03-30',
  series: [{ bucket: '2025-03-29', key_id: 1, key_name: 'ci', model: 'qwen3:8b', requests: 3, prompt_tokens: 120, completion_tokens: 30, estimated_requests: 0, failed_requests: 1 }],
  totals: { requests: 3, prompt_tokens: 120, completion_tokens: 30 },
  upstreams: [
    { upstream: 'gpu-a', requests: 2, prompt_tokens: 1200, completion_tokens: 30, failed_requests: 0 },
    { upstream: null, requests: 1, prompt_tokens: 0, completion_tokens: 0, failed_requests: 1 },
  ],
};

describe('UsagePage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<UsagePage>;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => (fixture.nativeElement as HTMLElement).querySelector<T>(`[data-testid="${id}"]`);

  beforeEach(async () => {
    ({ http } = setUpApi());
    // jsdom has no canvas: with no 2D context Chart.js draws nothing (and says so quietly).
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(null);
    fixture = TestBed.createComponent(UsagePage);
    http.expectOne('/api/api-keys').flush([{ id: 1, name: 'ci' }]);
    const request = http.expectOne((r) => r.url === '/api/usage');
    expect(request.request.params.get('granularity')).toBe('day');
    // The days are the server's own (APP_TZ), not the browser's calendar, which is a day off around midnight.
    expect(request.request.params.has('from')).toBe(false);
    expect(request.request.params.has('to')).toBe(false);
    request.flush(USAGE);
    await fixture.whenStable();
  });

  afterEach(() => {
    http.verify();
    vi.restoreAllMocks();
  });

  it('shows the days the server chose, in its zone', () => {
    expect(byTestId('usage-range')!.textContent!.replace(/\s+/g, ' ').trim()).toBe(`last 30 days: ${USAGE.from} to ${USAGE.to}, days in ${USAGE.time_zone}`);
  });

  it('shows the totals and a row per key and model', () => {
    expect(byTestId('usage-total-requests')!.textContent!.trim()).toBe('3');
    expect(byTestId('usage-total-prompt-tokens')!.textContent!.trim()).toBe('120');
    expect(byTestId('usage-total-tokens')!.textContent!.trim()).toBe('150');
    expect(byTestId('usage-row-ci-qwen3:8b')).not.toBeNull();
    expect(byTestId('usage-chart')!.querySelector('canvas')).not.toBeNull();
  });

  it('shows the range by upstream, the requests no upstream served as "none"', () => {
    const cells = (row: string) => [...byTestId(row)!.querySelectorAll('td')].map((cell) => cell.textContent!.trim());
    expect([...byTestId('usage-upstreams')!.querySelectorAll('th')].map((cell) => cell.textContent!.trim())).toEqual([
      'Upstream',
      'Requests',
      'Prompt tokens',
      'Completion tokens',
      'Failed',
    ]);
    expect(cells('usage-upstream-row-gpu-a')).toEqual(['gpu-a', '2', '1,200', '30', '0']);
    expect(cells('usage-upstream-row-none')).toEqual(['none', '1', '0', '0', '1']);
    expect(byTestId('usage-upstreams')!.querySelectorAll('tr[mat-row], tr.mat-mdc-row')).toHaveLength(2);
  });

  it('exports the CSV with the same filters', async () => {
    const createObjectURL = vi.fn(() => 'blob:usage');
    Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() });
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
    byTestId('usage-export-csv')!.click();
    const request = http.expectOne((r) => r.url === '/api/usage.csv');
    expect(request.request.params.get('granularity')).toBe('day');
    request.flush(new Blob(['a,b\n']), { headers: { 'Content-Disposition': 'attachment; filename="usage.csv"' } });
    await fixture.whenStable();
    expect(createObjectURL).toHaveBeenCalled();
    expect(click).toHaveBeenCalled();
  });
});
