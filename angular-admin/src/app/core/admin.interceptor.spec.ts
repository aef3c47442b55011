import { HttpClient, HttpContext } from '@angular/common/http';
import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { MockInstance } from 'vitest';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { INLINE_ERRORS } from './admin.interceptor';
import { ApiError } from './api-error';
import { SESSION_STORAGE_KEY, SessionService } from './session.service';

describe('adminInterceptor', () => {
  let http: HttpTestingController;
  let client: HttpClient;
  let snackBarOpen: MockInstance;
  let navigate: MockInstance;

  beforeEach(() => {
    ({ http, snackBarOpen, navigate } = setUpApi());
    client = TestBed.inject(HttpClient);
  });

  afterEach(() => http.verify());

  it('sends the session token as a bearer token on admin API calls', () => {
    client.get('/api/api-keys').subscribe();
    expect(http.expectOne('/api/api-keys').request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
  });

  it('sends no token with the login itself, nor to other paths or other origins', () => {
    client.post('/api/login', { password: 'x' }).subscribe();
    client.get('/assets/x.json').subscribe();
    client.get('https://example.com/api/thing').subscribe();
    expect(http.expectOne('/api/login').request.headers.has('Authorization')).toBe(false);
    expect(http.expectOne('/assets/x.json').request.headers.has('Authorization')).toBe(false);
    expect(http.expectOne('https://example.com/api/thing').request.headers.has('Authorization')).toBe(false);
  });

  it('sends no Authorization header when logged out', () => {
    TestBed.inject(SessionService).end();
    client.get('/api/settings').subscribe({ error: () => undefined });
    expect(http.expectOne('/api/settings').request.headers.has('Authorization')).toBe(false);
  });

  it('ends the session on a 401 and sends the person to the login page with a notice', () => {
    const session = TestBed.inject(SessionService);
    const result = capture(client.get('/api/api-keys'));
    http.expectOne('/api/api-keys').flush({ statusCode: 401, message: 'session expired', error: 'Unauthorized' }, { status: 401, statusText: 'Unauthorized' });

    expect(result.error).toBeInstanceOf(ApiError);
    expect((result.error as ApiError).status).toBe(401);
    expect(session.token()).toBeNull();
    expect(session.isLoggedIn()).toBe(false);
    expect(localStorage.getItem(SESSION_STORAGE_KEY)).toBeNull();
    expect(session.notice()).toMatch(/log in again/);
    expect(navigate).toHaveBeenCalledWith(['/login'], expect.anything());
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it('leaves the session alone on a wrong password (401 from /api/login)', () => {
    const session = TestBed.inject(SessionService);
    const result = capture(client.post('/api/login', { password: 'bad' }, { context: new HttpContext().set(INLINE_ERRORS, true) }));
    http.expectOne('/api/login').flush({ statusCode: 401, message: 'wrong password', error: 'Unauthorized' }, { status: 401, statusText: 'Unauthorized' });

    expect((result.error as ApiError).message).toBe('wrong password');
    expect(session.token()).toBe(TEST_TOKEN);
    expect(navigate).not.toHaveBeenCalled();
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it("shows other failures in a snackbar with Nest's message, joined when it is a list", () => {
    const result = capture(client.patch('/api/api-keys/1/quota', {}));
    http
      .expectOne('/api/api-keys/1/quota')
      .flush({ statusCode: 400, message: ['daily_token_limit must not be less than 0', 'name must be a string'], error: 'Bad Request' }, { status: 400, statusText: 'Bad Request' });

    expect(result.error).toBeInstanceOf(ApiError);
    expect((result.error as ApiError).message).toBe('daily_token_limit must not be less than 0; name must be a string');
    expect(snackBarOpen).toHaveBeenCalledWith('daily_token_limit must not be less than 0; name must be a string', 'Dismiss', expect.anything());
  });

  it('keeps quiet for callers that show the error inline, but still hands them the message', () => {
    const result = capture(client.put('/api/settings', {}, { context: new HttpContext().set(INLINE_ERRORS, true) }));
    http.expectOne('/api/settings').flush({ statusCode: 400, message: 'ollama_url: refused', error: 'Bad Request' }, { status: 400, statusText: 'Bad Request' });
    expect((result.error as ApiError).message).toBe('ollama_url: refused');
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it('reads Retry-After on a 429', () => {
    const result = capture(client.post('/api/login', { password: 'x' }));
    http.expectOne('/api/login').flush({ statusCode: 429, message: 'too many failed logins', error: 'Too Many Requests' }, { status: 429, statusText: 'Too Many Requests', headers: { 'Retry-After': '42' } });
    expect((result.error as ApiError).retryAfter).toBe(42);
  });

  it('says the API did not answer when the network fails', () => {
    const result = capture(client.get('/api/audit'));
    http.expectOne('/api/audit').error(new ProgressEvent('error'), { status: 0, statusText: 'Unknown Error' });
    expect((result.error as ApiError).message).toMatch(/did not answer/);
    expect(snackBarOpen).toHaveBeenCalled();
  });
});
