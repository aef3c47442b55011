import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { MockInstance } from 'vitest';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { ApiError } from '../core/api-error';
import { SessionService } from '../core/session.service';
import type { Settings } from './admin-api.types';
import { SettingsApi } from './settings-api.service';

describe('SettingsApi', () => {
  let http: HttpTestingController;
  let api: SettingsApi;
  let snackBarOpen: MockInstance;
  let navigate: MockInstance;

  beforeEach(() => {
    ({ http, snackBarOpen, navigate } = setUpApi());
    api = TestBed.inject(SettingsApi);
  });

  afterEach(() => http.verify());

  it('reads GET /api/settings with the token', () => {
    const settings: Settings = {
      ollama_url: 'http://localhost:11434',
      default_model: null,
      model_aliases: { 'gpt-*': 'qwen3:8b' },
      num_ctx: 8192,
      keep_alive_min_s: 300,
      keep_alive_max_s: 1800,
      max_num_ctx: null,
      allow_load_options: false,
      allow_cloud_models: false,
    };
    const result = capture(api.get());
    const request = http.expectOne({ method: 'GET', url: '/api/settings' });
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush(settings);
    expect(result.value).toEqual(settings);
  });

  it('writes PUT /api/settings and answers the Ollama probe', () => {
    const body = { ollama_url: 'http://gpu:11434', default_model: 'qwen3:8b', model_aliases: {}, num_ctx: 4096, save_unreachable: true };
    const result = capture(api.update(body));
    const request = http.expectOne({ method: 'PUT', url: '/api/settings' });
    expect(request.request.body).toEqual(body);
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush({ settings: { ...body }, ollama: { reachable: false, error: 'ECONNREFUSED' } });
    expect(result.value?.ollama).toEqual({ reachable: false, error: 'ECONNREFUSED' });
  });

  it('hands a refused URL to the form with the probe result in the body, without a snackbar', () => {
    const result = capture(api.update({ ollama_url: 'http://nowhere:1' }));
    http
      .expectOne('/api/settings')
      .flush(
        { statusCode: 400, error: 'Bad Request', message: 'ollama_url: connection refused; nothing was saved', ollama: { reachable: false, error: 'connection refused' } },
        { status: 400, statusText: 'Bad Request' },
      );
    const error = result.error as ApiError;
    expect(error.message).toBe('ollama_url: connection refused; nothing was saved');
    expect((error.body as { ollama: unknown }).ollama).toEqual({ reachable: false, error: 'connection refused' });
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it('logs out on 401', () => {
    capture(api.get());
    http.expectOne('/api/settings').flush({ statusCode: 401, message: 'Unauthorized' }, { status: 401, statusText: 'Unauthorized' });
    expect(TestBed.inject(SessionService).token()).toBeNull();
    expect(navigate).toHaveBeenCalledWith(['/login'], expect.anything());
  });
});
