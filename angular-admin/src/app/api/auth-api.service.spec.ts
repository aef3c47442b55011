import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { MockInstance } from 'vitest';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { ApiError } from '../core/api-error';
import { SessionService } from '../core/session.service';
import { AuthApi } from './auth-api.service';

describe('AuthApi', () => {
  let http: HttpTestingController;
  let api: AuthApi;
  let snackBarOpen: MockInstance;

  beforeEach(() => {
    ({ http, snackBarOpen } = setUpApi({ loggedIn: false }));
    api = TestBed.inject(AuthApi);
  });

  afterEach(() => http.verify());

  it('posts the password to /api/login without a token and answers the session', () => {
    const result = capture(api.login('s3cret'));
    const request = http.expectOne('/api/login');
    expect(request.request.method).toBe('POST');
    expect(request.request.body).toEqual({ password: 's3cret' });
    expect(request.request.headers.has('Authorization')).toBe(false);
    request.flush({ token: 'tok', expires_at: '2030-01-01T00:00:00.000Z' });
    expect(result.value).toEqual({ token: 'tok', expires_at: '2030-01-01T00:00:00.000Z' });
  });

  it('leaves a wrong password to the login form: no snackbar, no redirect', () => {
    const result = capture(api.login('nope'));
    http.expectOne('/api/login').flush({ statusCode: 401, message: 'wrong password', error: 'Unauthorized' }, { status: 401, statusText: 'Unauthorized' });
    expect((result.error as ApiError).status).toBe(401);
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it('posts /api/logout with the session token', () => {
    TestBed.inject(SessionService).start(TEST_TOKEN, new Date(Date.now() + 60_000).toISOString());
    api.logout().subscribe();
    const request = http.expectOne('/api/logout');
    expect(request.request.method).toBe('POST');
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush(null, { status: 204, statusText: 'No Content' });
  });
});
