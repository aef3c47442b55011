import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { MockInstance } from 'vitest';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { ApiError } from '../core/api-error';
import type { UpstreamView } from './admin-api.types';
import { UpstreamsApi } from './upstreams-api.service';

describe('UpstreamsApi', () => {
  let http: HttpTestingController;
  let api: UpstreamsApi;
  let snackBarOpen: MockInstance;

  beforeEach(() => {
    ({ http, snackBarOpen } = setUpApi());
    api = TestBed.inject(UpstreamsApi);
  });

  afterEach(() => http.verify());

  function expectAuthorized(method: string, url: string, body?: unknown) {
    const request = http.expectOne({ method, url });
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    if (body !== undefined) expect(request.request.body).toEqual(body);
    return request;
  }

  it('lists with GET /api/upstreams', () => {
    const result = capture(api.list());
    expectAuthorized('GET', '/api/upstreams').flush([{ id: 1, name: 'gpu1' }]);
    expect(result.value).toEqual([{ id: 1, name: 'gpu1' }] as unknown as UpstreamView[]);
  });

  it('adds with POST /api/upstreams', () => {
    const body = { name: 'gpu2', url: 'http://gpu2:11434', max_parallel: 2, reserved_slots: 1, priority: 5, enabled: false };
    const result = capture(api.create(body));
    expectAuthorized('POST', '/api/upstreams', body).flush({ id: 2, name: 'gpu2' });
    expect(result.value?.id).toBe(2);
  });

  it('edits with PATCH /api/upstreams/{id}, sending only the given fields', () => {
    api.update(2, { max_parallel: 8 }).subscribe();
    expectAuthorized('PATCH', '/api/upstreams/2', { max_parallel: 8 }).flush({});
  });

  it('enables and disables with PATCH { enabled }', () => {
    api.setEnabled(2, false).subscribe();
    api.setEnabled(3, true).subscribe();
    expectAuthorized('PATCH', '/api/upstreams/2', { enabled: false }).flush({});
    expectAuthorized('PATCH', '/api/upstreams/3', { enabled: true }).flush({});
  });

  it('removes with DELETE /api/upstreams/{id}', () => {
    const result = capture(api.delete(2));
    expectAuthorized('DELETE', '/api/upstreams/2').flush(null, { status: 204, statusText: 'No Content' });
    expect(result.done).toBe(true);
    expect(result.error).toBeUndefined();
  });

  it('hands list and form errors to the page (inline), not to the snackbar', () => {
    const listed = capture(api.list());
    http.expectOne('/api/upstreams').flush({ statusCode: 500, message: 'Internal server error' }, { status: 500, statusText: 'Internal Server Error' });
    const created = capture(api.create({ name: 'gpu1', url: 'http://gpu1:11434' }));
    http.expectOne({ method: 'POST', url: '/api/upstreams' }).flush({ statusCode: 409, message: "an upstream named 'gpu1' already exists", error: 'Conflict' }, { status: 409, statusText: 'Conflict' });
    expect((listed.error as ApiError).message).toBe('Internal server error');
    expect((created.error as ApiError).message).toBe("an upstream named 'gpu1' already exists");
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it('shows card action errors in the snackbar', () => {
    const result = capture(api.delete(99));
    http.expectOne('/api/upstreams/99').flush({ statusCode: 404, message: 'upstream 99 not found', error: 'Not Found' }, { status: 404, statusText: 'Not Found' });
    expect(result.error).toBeInstanceOf(ApiError);
    expect(snackBarOpen).toHaveBeenCalledWith('upstream 99 not found', 'Dismiss', expect.anything());
  });
});
