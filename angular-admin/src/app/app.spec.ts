import { provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { Router, provideRouter } from '@angular/router';
import { RouterTestingHarness } from '@angular/router/testing';
import { App } from './app';
import { routes } from './app.routes';
import { adminInterceptor } from './core/admin.interceptor';
import { SESSION_STORAGE_KEY } from './core/session.service';

describe('App routes', () => {
  beforeEach(() => {
    localStorage.clear();
    TestBed.configureTestingModule({
      providers: [provideRouter(routes), provideHttpClient(withInterceptors([adminInterceptor])), provideHttpClientTesting()],
    });
  });

  it('sends a deep link without a session to the login page, and hides the navigation', async () => {
    const harness = await RouterTestingHarness.create();
    await harness.navigateByUrl('/usage');
    expect(TestBed.inject(Router).url).toBe('/login?returnUrl=%2Fusage');
    expect(harness.routeNativeElement!.querySelector('[data-testid="login-password"]')).not.toBeNull();
  });

  it('opens the overview for a stored session, with the navigation', async () => {
    localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ token: 't', expires_at: new Date(Date.now() + 60_000).toISOString() }));
    const fixture = TestBed.createComponent(App);
    await TestBed.inject(Router).navigateByUrl('/');
    await fixture.whenStable();
    expect(TestBed.inject(Router).url).toBe('/overview');
    TestBed.inject(HttpTestingController).expectOne('/api/overview').flush({
      time_zone: 'UTC',
      today: '2026-12-04',
      totals_today: { requests: 0, prompt_tokens: 0, completion_tokens: 0 },
      requests_per_minute: [],
      refusals_last_hour: {},
      streams_in_flight: 0,
      upstreams: [],
      keys_near_limits: [],
    });
    await fixture.whenStable();
    const element = fixture.nativeElement as HTMLElement;
    expect(element.querySelector('[data-testid="nav-usage"]')).not.toBeNull();
    expect(element.querySelector('[data-testid="nav-overview"]')).not.toBeNull();
    expect(element.querySelector('[data-testid="overview-no-near"]')).not.toBeNull();
  });

  it('opens the upstreams page from its link in the navigation', async () => {
    localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ token: 't', expires_at: new Date(Date.now() + 60_000).toISOString() }));
    const fixture = TestBed.createComponent(App);
    await TestBed.inject(Router).navigateByUrl('/keys');
    await fixture.whenStable();
    const http = TestBed.inject(HttpTestingController);
    http.expectOne('/api/api-keys').flush([]);
    const element = fixture.nativeElement as HTMLElement;
    element.querySelector<HTMLAnchorElement>('[data-testid="nav-upstreams"]')!.click();
    await fixture.whenStable();
    expect(TestBed.inject(Router).url).toBe('/upstreams');
    await new Promise((resolve) => setTimeout(resolve, 0));
    http.expectOne('/api/upstreams').flush([]);
    await fixture.whenStable();
    expect(element.querySelector('[data-testid="upstreams-empty"]')).not.toBeNull();
    expect(element.querySelector('[data-testid="nav-upstreams"]')!.classList).toContain('active');
  });
});
