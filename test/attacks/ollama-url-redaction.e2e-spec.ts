/**
 * An OLLAMA_URL may carry credentials (http://user:password@host, for an Ollama behind a proxy with
 * basic auth). Errors name Ollama's URL so an operator can tell which one failed; the credentials
 * must never travel with it — not to a proxy client in any dialect, not to the admin API, not into
 * a log line.
 */
import { createServer } from 'node:net';
import { testDatabases } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const [sqlite] = await testDatabases();

const USER = 'llm-user-7f3a';
const PASSWORD = 'pw-s3cret-4242';

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('an Ollama URL with credentials, Ollama unreachable', () => {
  let gateway: TestGateway;
  let port: number;
  let key: string;
  /** Every response the test saw: status, headers and body, for the search for the secret. */
  const seen: string[] = [];

  beforeAll(async () => {
    port = await closedPort();
    gateway = await startTestGateway(await sqlite!.create(), `http://${USER}:${PASSWORD}@127.0.0.1:${port}`, { ANTHROPIC_DEFAULT_MODEL: 'llama3.2' });
    key = (await gateway.createKey({ name: 'redaction' })).key;
  });

  afterAll(async () => {
    await gateway?.close();
  });

  const record = async (response: Response): Promise<{ status: number; text: string }> => {
    const text = await response.text();
    seen.push(`${response.status} ${JSON.stringify([...response.headers])} ${text}`);
    return { status: response.status, text };
  };

  const proxy = (method: string, path: string, body?: unknown) =>
    fetch(`${gateway.proxyUrl}${path}`, {
      method,
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(record);

  const messages = [{ role: 'user', content: 'hi' }];
  const expectedUrl = () => `127.0.0.1:${port}`;

  it.each([
    ['native chat', 'POST', '/api/chat', { model: 'llama3.2', messages, stream: false }],
    ['native chat, streamed', 'POST', '/api/chat', { model: 'llama3.2', messages }],
    ['native generate', 'POST', '/api/generate', { model: 'llama3.2', prompt: 'hi', stream: false }],
    ['native embed', 'POST', '/api/embed', { model: 'nomic-embed-text', input: 'hi' }],
    ['native tags', 'GET', '/api/tags', undefined],
    ['OpenAI chat', 'POST', '/v1/chat/completions', { model: 'llama3.2', messages }],
    ['OpenAI chat, streamed', 'POST', '/v1/chat/completions', { model: 'llama3.2', messages, stream: true }],
    ['OpenAI embeddings', 'POST', '/v1/embeddings', { model: 'nomic-embed-text', input: 'hi' }],
    ['OpenAI models', 'GET', '/v1/models', undefined],
    ['Anthropic messages', 'POST', '/v1/messages', { model: 'llama3.2', max_tokens: 5, messages }],
    ['Anthropic messages, streamed', 'POST', '/v1/messages', { model: 'llama3.2', max_tokens: 5, messages, stream: true }],
  ])('%s: an error naming Ollama at its host and port, without the credentials', async (_, method, path, body) => {
    const { status, text } = await proxy(method, path, body);
    expect(status).toBeGreaterThanOrEqual(500);
    expect(text).toContain(expectedUrl());
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(USER);
  });

  it('the admin API: the Ollama check and the model list name the URL without the credentials', async () => {
    const models = await record(await gateway.admin('/api/ollama-models'));
    expect(models.status).toBe(502);
    expect(models.text).toContain(expectedUrl());
    // A new URL with other credentials that does not answer: refused, the check's message redacted.
    const other = await record(
      await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ ollama_url: `http://${USER}:${PASSWORD}-2@127.0.0.1:${port}/base` }) }),
    );
    expect(other.status).toBe(400);
    expect(other.text).toContain(`ollama_url: Ollama at http://${expectedUrl()}/base is unreachable`);
    const keyWithModels = await record(await gateway.admin('/api/api-keys', { method: 'POST', body: JSON.stringify({ name: 'allow', allowed_models: ['llama3.2'] }) }));
    expect(keyWithModels.status).toBe(502);
    for (const text of [models.text, other.text, keyWithModels.text]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(USER);
    }
  });

  it('no response and no log line carries the credentials', () => {
    expect(seen.length).toBeGreaterThan(10);
    const leaks = [...seen, ...gateway.appLog, ...gateway.usageLines().map((line) => JSON.stringify(line))].filter(
      (text) => text.includes(PASSWORD) || text.includes(USER),
    );
    expect(leaks).toEqual([]);
  });
});
