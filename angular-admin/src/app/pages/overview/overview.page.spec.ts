import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { setUpApi } from '../../../testing/api-testing';
import type { Overview } from '../../api/admin-api.types';
import { OVERVIEW_REFRESH_MS, OverviewPage } from './overview.page';

function overview(overrides: Partial<Overview> = {}): Overview {
  const minutes = Array.from({ length: 60 }, (_, i) => ({ minute: new Date(Date.UTC(2026, 11, 4, 11, i)).toISOString(), requests: i === 59 ? 40 : i === 58 ? 10 : 0 }));
  return {
    time_zone: 'Europe/Berlin',
    today: '2026-12-04',
    totals_today: { requests: 1234, prompt_tokens: 50_000, completion_tokens: 7_000 },
    requests_per_minute: minutes,
    refusals_last_hour: { unauthorized: 2, forbidden: 0, not_found: 0, bad_request: 0, quota_requests: 0, quota_tokens: 5, quota_concurrency: 0, overloaded: 0, upstream: 0 },
    streams_in_flight: 3,
    upstreams: [{ id: 1, name: 'gpu1', health: 'up', loaded: ['qwen3:4b'], in_flight: 2, max_parallel: 4, queued: 1 }],
    keys_near_limits: [{ id: 7, name: 'ci-bot', window: 'day', kind: 'tokens', used: 9_000, limit: 10_000, share: 0.9, resets_at: '2026-12-05T00:00:00+01:00' }],
    ...overrides,
  };
}

describe('OverviewPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<OverviewPage>;
  const byTestId = (id: string) => (fixture.nativeElement as HTMLElement).querySelector<HTMLElement>(`[data-testid="${id}"]`);
  const text = (id: string) => byTestId(id)?.textContent?.replace(/\s+/g, ' ').trim();

  afterEach(() => http.verify());

  it('shows today, the last hour, refusals by kind, the servers and the keys nearest a limit', async () => {
    ({ http } = setUpApi());
    fixture = TestBed.createComponent(OverviewPage);
    http.expectOne('/api/overview').flush(overview());
    await fixture.whenStable();
    expect(text('overview-requests-today')).toContain('1,234');
    expect(text('overview-tokens-today')).toContain('57,000');
    expect(text('overview-streams')).toContain('3');
    // 60 bars, the busiest at full height and the others in proportion, none past the plot.
    const bars = [...byTestId('overview-rpm')!.querySelectorAll('rect')].map((r) => Number(r.getAttribute('height')));
    expect(bars).toHaveLength(60);
    expect(bars.at(-1)).toBe(78);
    expect(bars.at(-2)).toBe(20);
    expect(Math.max(...bars)).toBeLessThanOrEqual(80);
    expect(byTestId('overview-rpm')!.getAttribute('aria-label')).toBe('50 requests in the last hour, at most 40 in a minute');
    // Only the kinds that happened.
    expect(text('overview-refusal-unauthorized')).toMatch(/^Unknown, inactive or expired key \(401\)\s*2$/);
    expect(text('overview-refusal-quota_tokens')).toMatch(/^Token quota used up \(429\)\s*5$/);
    expect(byTestId('overview-refusal-forbidden')).toBeNull();
    expect(text('overview-upstream-gpu1')).toContain('2/4 busy, 1 waiting');
    expect(text('overview-upstream-gpu1')).toContain('loaded: qwen3:4b');
    expect(text('overview-near-ci-bot')).toContain('90% of its daily tokens (9,000 of 10,000)');
  });

  it('says so when nothing was refused and no key is near a limit, and refreshes while open, keeping the figures on an error', async () => {
    TestBed.configureTestingModule({ providers: [{ provide: OVERVIEW_REFRESH_MS, useValue: 40 }] });
    ({ http } = setUpApi());
    fixture = TestBed.createComponent(OverviewPage);
    http.expectOne('/api/overview').flush(overview({ keys_near_limits: [], refusals_last_hour: { ...overview().refusals_last_hour, unauthorized: 0, quota_tokens: 0 } }));
    await fixture.whenStable();
    expect(byTestId('overview-no-refusals')).not.toBeNull();
    expect(byTestId('overview-no-near')).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 60));
    // A slow machine may have ticked twice: the older question is cancelled, the newest one is answered.
    const asked = http.match('/api/overview').filter((request) => !request.cancelled);
    expect(asked).toHaveLength(1);
    asked[0]!.flush({ statusCode: 503, message: 'the database is unavailable', error: 'Service Unavailable' }, { status: 503, statusText: 'Service Unavailable' });
    await fixture.whenStable();
    expect(text('overview-error')).toContain('the database is unavailable');
    expect(text('overview-requests-today')).toContain('1,234');
    fixture.destroy();
    await new Promise((resolve) => setTimeout(resolve, 120));
    http.expectNone('/api/overview');
  });
});
