import { TestBed } from '@angular/core/testing';
import { Router, UrlTree, provideRouter, type ActivatedRouteSnapshot, type RouterStateSnapshot } from '@angular/router';
import { SESSION_STORAGE_KEY, SessionService } from './session.service';
import { authGuard, guestGuard } from './auth.guard';

describe('authGuard', () => {
  const run = (guard: typeof authGuard, url: string) =>
    TestBed.runInInjectionContext(() => guard({} as ActivatedRouteSnapshot, { url } as RouterStateSnapshot));

  beforeEach(() => {
    localStorage.clear();
    TestBed.configureTestingModule({ providers: [provideRouter([])] });
  });

  it('sends a visitor without a session to the login page, remembering where they were going', () => {
    const result = run(authGuard, '/usage');
    expect(result).toBeInstanceOf(UrlTree);
    expect(TestBed.inject(Router).serializeUrl(result as UrlTree)).toBe('/login?returnUrl=%2Fusage');
  });

  it('lets a live session through, and keeps it off the login page', () => {
    localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ token: 't', expires_at: new Date(Date.now() + 60_000).toISOString() }));
    TestBed.inject(SessionService);
    expect(run(authGuard, '/keys')).toBe(true);
    expect(TestBed.inject(Router).serializeUrl(run(guestGuard, '/login') as UrlTree)).toBe('/overview');
  });
});
