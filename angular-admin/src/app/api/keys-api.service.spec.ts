import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { MockInstance } from 'vitest';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { ApiError } from '../core/api-error';
import { SessionService } from '../core/session.service';
import type { ApiKeyWithUsage } from './admin-api.types';
import { KeysApi } from './keys-api.service';

describe('KeysApi', () => {
  let http: HttpTestingController;
  let api: KeysApi;
  let snackBarOpen: MockInstance;
  let navigate: MockInstance;

  beforeEach(() => {
    ({ http, snackBarOpen, navigate } = setUpApi());
    api = TestBed.inject(KeysApi);
  });

  afterEach(() => http.verify());

  function expectAuthorized(method: string, url: string, body?: unknown) {
    const request = http.expectOne({ method, url });
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    if (body !== undefined) expect(request.request.body).toEqual(body);
    return request;
  }

  it('lists keys with GET /api/api-keys', () => {
    const result = capture(api.list());
    expectAuthorized('GET', '/api/api-keys').flush([{ id: 1, name: 'ci' }]);
    expect(result.value).toEqual([{ id: 1, name: 'ci' }] as unknown as ApiKeyWithUsage[]);
  });

  it('creates with POST /api/api-keys and hands back the plaintext key', () => {
    const body = { name: 'ci', expires_at: '2030-01-01T00:00:00.000Z', allowed_models: ['qwen3:8b'], max_concurrent: 2, daily_request_limit: 100 };
    const result = capture(api.create(body));
    expectAuthorized('POST', '/api/api-keys', body).flush({ id: 7, name: 'ci', key: 'sk-plain' });
    expect(result.value?.key).toBe('sk-plain');
  });

  it('edits with PATCH /api/api-keys/{id}, sending null to clear', () => {
    api.update(7, { name: 'renamed', expires_at: null, allowed_models: null, max_concurrent: null }).subscribe();
    expectAuthorized('PATCH', '/api/api-keys/7', { name: 'renamed', expires_at: null, allowed_models: null, max_concurrent: null }).flush({});
  });

  it('sets the four limits with PATCH /api/api-keys/{id}/quota', () => {
    const limits = { daily_token_limit: 1000, monthly_token_limit: null, daily_request_limit: 5, monthly_request_limit: null };
    api.setQuota(7, limits).subscribe();
    expectAuthorized('PATCH', '/api/api-keys/7/quota', limits).flush({});
  });

  it('rotates with POST /api/api-keys/{id}/rotate', () => {
    const result = capture(api.rotate(7));
    expectAuthorized('POST', '/api/api-keys/7/rotate').flush({ id: 7, key: 'sk-new' });
    expect(result.value?.key).toBe('sk-new');
  });

  it('activates and deactivates with PUT', () => {
    api.setActive(7, true).subscribe();
    api.setActive(8, false).subscribe();
    expectAuthorized('PUT', '/api/api-keys/7/activate').flush({});
    expectAuthorized('PUT', '/api/api-keys/8/deactivate').flush({});
  });

  it('deletes with DELETE /api/api-keys/{id}', () => {
    const result = capture(api.delete(7));
    expectAuthorized('DELETE', '/api/api-keys/7').flush(null, { status: 204, statusText: 'No Content' });
    expect(result.done).toBe(true);
    expect(result.error).toBeUndefined();
  });

  it('hands create errors to the dialog (inline), not to the snackbar', () => {
    const result = capture(api.create({ name: '' }));
    http.expectOne('/api/api-keys').flush({ statusCode: 400, message: ['name should not be empty'], error: 'Bad Request' }, { status: 400, statusText: 'Bad Request' });
    expect((result.error as ApiError).message).toBe('name should not be empty');
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it('shows row action errors in the snackbar', () => {
    const result = capture(api.delete(99));
    http.expectOne('/api/api-keys/99').flush({ statusCode: 404, message: 'api key 99 not found', error: 'Not Found' }, { status: 404, statusText: 'Not Found' });
    expect(result.error).toBeInstanceOf(ApiError);
    expect(snackBarOpen).toHaveBeenCalledWith('api key 99 not found', 'Dismiss', expect.anything());
  });

  it('logs out and returns to the login page when the session is refused', () => {
    const session = TestBed.inject(SessionService);
    capture(api.list());
    http.expectOne('/api/api-keys').flush({ statusCode: 401, message: 'Unauthorized' }, { status: 401, statusText: 'Unauthorized' });
    expect(session.isLoggedIn()).toBe(false);
    expect(navigate).toHaveBeenCalledWith(['/login'], expect.anything());
  });
});
