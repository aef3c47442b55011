import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { capture, setUpApi, TEST_TOKEN } from '../../testing/api-testing';
import type { AccountView } from './admin-api.types';
import { AccountsApi } from './accounts-api.service';

const VERA: AccountView = { id: 2, username: 'vera', role: 'viewer', created_at: '2026-12-01T10:00:00Z', updated_at: '2026-12-01T10:00:00Z', password_changed_at: '2026-12-01T10:00:00Z' };

describe('AccountsApi', () => {
  let http: HttpTestingController;
  let api: AccountsApi;

  beforeEach(() => {
    ({ http } = setUpApi());
    api = TestBed.inject(AccountsApi);
  });

  afterEach(() => http.verify());

  it('lists the accounts with the session token', () => {
    const result = capture(api.list());
    const request = http.expectOne('/api/accounts');
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush([VERA]);
    expect(result.value).toEqual([VERA]);
  });

  it('creates, updates and deletes by id', () => {
    capture(api.create({ username: 'vera', role: 'viewer', password: 'long-enough-password' }));
    const create = http.expectOne({ method: 'POST', url: '/api/accounts' });
    expect(create.request.body).toEqual({ username: 'vera', role: 'viewer', password: 'long-enough-password' });
    create.flush(VERA);

    capture(api.update(2, { role: 'admin' }));
    const update = http.expectOne({ method: 'PATCH', url: '/api/accounts/2' });
    expect(update.request.body).toEqual({ role: 'admin' });
    update.flush({ ...VERA, role: 'admin' });

    const removed = capture(api.delete(2));
    http.expectOne({ method: 'DELETE', url: '/api/accounts/2' }).flush(null, { status: 204, statusText: 'No Content' });
    expect(removed.done).toBe(true);
  });
});
