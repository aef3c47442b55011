import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { AuditApi } from './audit-api.service';

describe('AuditApi', () => {
  let http: HttpTestingController;
  let api: AuditApi;

  beforeEach(() => {
    ({ http } = setUpApi());
    api = TestBed.inject(AuditApi);
  });

  afterEach(() => http.verify());

  it('reads the newest page with GET /api/audit?limit=', () => {
    const result = capture(api.list(50));
    const request = http.expectOne((r) => r.url === '/api/audit');
    expect(request.request.method).toBe('GET');
    expect(request.request.urlWithParams).toBe('/api/audit?limit=50');
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush([{ id: 9, at: '2025-03-30T10:00:00.000Z', action: 'key.create', target_type: 'api_key', target_id: '1', target_name: 'ci', changes: {} }]);
    expect(result.value?.[0].id).toBe(9);
  });

  it('pages back with before_id', () => {
    capture(api.list(50, 9));
    expect(http.expectOne((r) => r.url === '/api/audit').request.urlWithParams).toBe('/api/audit?limit=50&before_id=9');
  });
});
