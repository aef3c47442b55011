import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { ProxyInfoApi } from './proxy-info-api.service';

describe('ProxyInfoApi', () => {
  let http: HttpTestingController;

  beforeEach(() => ({ http } = setUpApi()));
  afterEach(() => http.verify());

  it('reads GET /api/proxy-info with the token', () => {
    const info = {
      proxy_url: 'http://gw:8000',
      ollama_base_url: 'http://gw:8000',
      openai_base_url: 'http://gw:8000/v1',
      anthropic_base_url: 'http://gw:8000',
      admin_url: 'http://gw:8001',
    };
    const result = capture(TestBed.inject(ProxyInfoApi).get());
    const request = http.expectOne({ method: 'GET', url: '/api/proxy-info' });
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush(info);
    expect(result.value).toEqual(info);
  });
});
