import { TestBed } from '@angular/core/testing';
import { Router, provideRouter } from '@angular/router';
import { vi } from 'vitest';
import { SESSION_STORAGE_KEY, SessionService } from './session.service';

describe('SessionService', () => {
  beforeEach(() => {
    localStorage.clear();
    TestBed.configureTestingModule({ providers: [provideRouter([])] });
    vi.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
  });

  afterEach(() => vi.useRealTimers());

  it('keeps the token in localStorage, so a reload (a new service) is still logged in', () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    TestBed.inject(SessionService).start('tok', expiresAt);
    expect(JSON.parse(localStorage.getItem(SESSION_STORAGE_KEY)!)).toEqual({ token: 'tok', expires_at: expiresAt });

    TestBed.resetTestingModule();
    TestBed.configureTestingModule({ providers: [provideRouter([])] });
    const reloaded = TestBed.inject(SessionService);
    expect(reloaded.token()).toBe('tok');
    expect(reloaded.isLoggedIn()).toBe(true);
  });

  it('is not logged in with a token past its expiry, nor with a corrupt entry', () => {
    localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ token: 'old', expires_at: '2000-01-01T00:00:00Z' }));
    expect(TestBed.inject(SessionService).isLoggedIn()).toBe(false);
    TestBed.resetTestingModule();
    localStorage.setItem(SESSION_STORAGE_KEY, '{not json');
    TestBed.configureTestingModule({ providers: [provideRouter([])] });
    expect(TestBed.inject(SessionService).token()).toBeNull();
  });

  it('logout clears the stored token and goes to the login page', () => {
    const session = TestBed.inject(SessionService);
    session.start('tok', new Date(Date.now() + 3_600_000).toISOString());
    session.end();
    expect(localStorage.getItem(SESSION_STORAGE_KEY)).toBeNull();
    expect(session.token()).toBeNull();
    expect(TestBed.inject(Router).navigate).toHaveBeenCalledWith(['/login'], { queryParams: {} });
  });

  it('ends the session by itself when the token expires', () => {
    vi.useFakeTimers();
    const session = TestBed.inject(SessionService);
    session.start('tok', new Date(Date.now() + 60_000).toISOString());
    vi.advanceTimersByTime(59_000);
    expect(session.isLoggedIn()).toBe(true);
    vi.advanceTimersByTime(2_000);
    expect(session.token()).toBeNull();
    expect(session.notice()).toMatch(/expired/);
  });

  it('keeps the account and role with the token, and offers writes to all but a known viewer', () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const session = TestBed.inject(SessionService);
    session.start('tok', expiresAt);
    expect([session.role(), session.canWrite(), session.isAdmin()]).toEqual([null, true, false]);
    session.setAccount({ username: 'vera', role: 'viewer' });
    expect([session.username(), session.canWrite(), session.isAdmin()]).toEqual(['vera', false, false]);
    expect(JSON.parse(localStorage.getItem(SESSION_STORAGE_KEY)!)).toEqual({ token: 'tok', expires_at: expiresAt, username: 'vera', role: 'viewer' });

    TestBed.resetTestingModule();
    TestBed.configureTestingModule({ providers: [provideRouter([])] });
    expect(TestBed.inject(SessionService).role()).toBe('viewer');
  });

  it('ignores a stored role it does not know', () => {
    localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ token: 't', expires_at: new Date(Date.now() + 60_000).toISOString(), username: 'x', role: 'root' }));
    const session = TestBed.inject(SessionService);
    expect([session.token(), session.role(), session.username()]).toEqual(['t', null, null]);
  });
});
