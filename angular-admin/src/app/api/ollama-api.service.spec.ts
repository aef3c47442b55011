import type { HttpTestingController } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import type { MockInstance } from 'vitest';
import { TEST_TOKEN, capture, setUpApi } from '../../testing/api-testing';
import { OllamaApi } from './ollama-api.service';

describe('OllamaApi', () => {
  let http: HttpTestingController;
  let api: OllamaApi;
  let snackBarOpen: MockInstance;

  beforeEach(() => {
    ({ http, snackBarOpen } = setUpApi());
    api = TestBed.inject(OllamaApi);
  });

  afterEach(() => http.verify());

  it('lists models from GET /api/ollama-models', () => {
    const result = capture(api.models());
    const request = http.expectOne({ method: 'GET', url: '/api/ollama-models' });
    expect(request.request.headers.get('Authorization')).toBe(`Bearer ${TEST_TOKEN}`);
    request.flush({ models: [{ name: 'qwen3:8b', model: 'qwen3:8b', modified_at: '', size: 1, digest: 'd', details: {} }] });
    expect(result.value?.map((model) => model.name)).toEqual(['qwen3:8b']);
  });

  it('shows a 502 from an unreachable Ollama', () => {
    capture(api.models());
    http.expectOne('/api/ollama-models').flush({ statusCode: 502, message: 'http://localhost:11434/api/tags: connection refused', error: 'Bad Gateway' }, { status: 502, statusText: 'Bad Gateway' });
    expect(snackBarOpen).toHaveBeenCalledWith('http://localhost:11434/api/tags: connection refused', 'Dismiss', expect.anything());
  });
});
