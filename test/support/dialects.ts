/** Requests in the three dialects the proxy speaks, and how each dialect's error body reads. */

export type Json = Record<string, unknown>;
export type DialectName = 'native' | 'openai' | 'anthropic';

/** POSTs `body` with the key as a bearer token (and an `anthropic-version`, which only /v1/messages reads). */
export function post(baseUrl: string, path: string, key: string, body: unknown, raw = false, signal?: AbortSignal): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    signal,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: raw ? (body as string) : JSON.stringify(body),
  });
}

export const CHAT = { model: 'llama3.2', messages: [{ role: 'user', content: 'hello' }] };

/** One request per dialect, non-streaming, and how to read its error. */
export const DIALECTS = [
  { name: 'native', path: '/api/chat', body: { ...CHAT, stream: false } },
  { name: 'openai', path: '/v1/chat/completions', body: { ...CHAT, stream: false } },
  { name: 'anthropic', path: '/v1/messages', body: { ...CHAT, max_tokens: 100, stream: false } },
] as const;

/** The dialect's chat request for `stream` (Anthropic's needs max_tokens). */
export function chatRequest(dialect: DialectName, stream: boolean, content = 'hello'): { path: string; body: Json } {
  const entry = DIALECTS.find((d) => d.name === dialect)!;
  return { path: entry.path, body: { ...entry.body, messages: [{ role: 'user', content }], stream } };
}

/** What only a complete streamed answer of each dialect contains (its last event). */
export const STREAM_END: Record<DialectName, string> = { native: '"done":true', openai: 'data: [DONE]', anthropic: 'event: message_stop' };

/** Checks that `body` is the dialect's error shape and returns its message. */
export function errorMessageOf(dialect: string, body: Json): string {
  if (dialect === 'native') {
    expect(body).toEqual({ error: expect.any(String) });
    return body.error as string;
  }
  if (dialect === 'openai') {
    expect(body).toEqual({ error: { message: expect.any(String), type: expect.any(String), param: null, code: null } });
    return (body.error as Json).message as string;
  }
  expect(body).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
  return (body.error as Json).message as string;
}
