import { dialectForPath } from './dialect.js';
import { errorBody, UNKNOWN_ROUTE } from './errors.js';

describe('errorBody', () => {
  it('answers Ollama clients with {"error": message}', () => {
    expect(errorBody('ollama', 429, 'quota')).toEqual({ error: 'quota' });
  });

  it('answers OpenAI clients with type, param and code', () => {
    expect(errorBody('openai', 429, 'quota')).toEqual({
      error: { message: 'quota', type: 'rate_limit_exceeded', param: null, code: 'rate_limit_exceeded' },
    });
    expect(errorBody('openai', 400, 'bad', { param: 'messages' })).toEqual({
      error: { message: 'bad', type: 'invalid_request_error', param: 'messages', code: null },
    });
    expect(errorBody('openai', 502, 'down')).toMatchObject({ error: { type: 'api_error' } });
  });

  it("answers OpenAI clients' 404 as OpenAI's API does an unknown model: an invalid request, model_not_found", () => {
    expect(errorBody('openai', 404, "model 'x' not found", { param: 'model' })).toEqual({
      error: { message: "model 'x' not found", type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
    });
  });

  it('answers Anthropic clients with a typed error event body', () => {
    expect(errorBody('anthropic', 429, 'quota', { requestId: 'req_1' })).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'quota' },
      request_id: 'req_1',
    });
    expect(errorBody('anthropic', 401, 'no key')).toMatchObject({ error: { type: 'authentication_error' } });
    expect(errorBody('anthropic', 504, 'slow')).toMatchObject({ error: { type: 'timeout_error' } });
  });
});

describe('errorBody for an unknown route (UNKNOWN_ROUTE)', () => {
  const message = 'no route for POST /v1/completions';

  it('says unknown_route to OpenAI clients, as an invalid request (not model_not_found)', () => {
    expect(errorBody('openai', 404, message, UNKNOWN_ROUTE)).toEqual({ error: { message, type: 'invalid_request_error', param: null, code: 'unknown_route' } });
  });

  it('is not_found_error for Anthropic clients and {"error"} for Ollama clients', () => {
    expect(errorBody('anthropic', 404, message, { ...UNKNOWN_ROUTE, requestId: 'req_1' })).toEqual({ type: 'error', error: { type: 'not_found_error', message }, request_id: 'req_1' });
    expect(errorBody('ollama', 404, message, UNKNOWN_ROUTE)).toEqual({ error: message });
  });
});

describe('dialectForPath', () => {
  it('maps paths to the dialect their clients speak', () => {
    expect(dialectForPath('/api/chat')).toBe('ollama');
    expect(dialectForPath('/v1/chat/completions')).toBe('openai');
    expect(dialectForPath('/v1/models')).toBe('openai');
    expect(dialectForPath('/v1/messages')).toBe('anthropic');
    expect(dialectForPath('/v1/messages/count_tokens')).toBe('anthropic');
  });
});
