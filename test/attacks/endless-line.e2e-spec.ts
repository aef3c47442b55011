/**
 * An upstream that starts an NDJSON line and never ends it: the gateway buffered the line without
 * bound until the process ran out of memory. It now gives up at MAX_LINE_BYTES (256 MiB) and says
 * so in the caller's dialect as an upstream error.
 *
 * The upstream is the scripted Ollama behind a small relay that answers inference calls with the
 * endless line itself (the catalogue, /api/show and the rest pass through unchanged).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_LINE_BYTES } from '../../libs/ollama/src/ndjson.js';
import { testDatabases } from '../support/databases.js';
import { eventually, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';

const [sqlite] = await testDatabases();

const MESSAGE = `Ollama sent a line longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB without ending it; the answer was given up`;
const ENDLESS = new Set(['/api/chat', '/api/generate', '/api/embed']);

/** Relays to `target`, except that inference calls get 200 and a line that never ends. */
async function endlessRelay(target: string): Promise<{ url: string; sent: () => number; close(): Promise<void> }> {
  let sent = 0;
  const piece = Buffer.alloc(1024 * 1024, 'a');
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && ENDLESS.has(req.url ?? '')) {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"model":"llama3.2","message":{"role":"assistant","content":"');
      // Stops when the gateway gives up (closes the socket) or, as a safety net, at twice the cap.
      let mine = 0;
      const more = () => {
        while (!res.destroyed && mine < 2 * MAX_LINE_BYTES) {
          mine += piece.length;
          sent += piece.length;
          if (!res.write(piece)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
      return;
    }
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => sent,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('an upstream line without end', () => {
  let fake: FakeOllama;
  let relay: Awaited<ReturnType<typeof endlessRelay>>;
  let gateway: TestGateway;
  let key: string;

  beforeAll(async () => {
    fake = await startFakeOllama();
    relay = await endlessRelay(fake.url);
    gateway = await startTestGateway(await sqlite!.create(), relay.url, { ANTHROPIC_DEFAULT_MODEL: 'llama3.2' });
    key = (await gateway.createKey({ name: 'endless' })).key;
  });

  afterAll(async () => {
    await gateway?.close();
    await relay?.close();
    await fake?.close();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${gateway.proxyUrl}${path}`, { method: 'POST', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
  const messages = [{ role: 'user', content: 'hi' }];

  it('OpenAI: 502 api_error naming the cap', async () => {
    const before = relay.sent();
    const response = await post('/v1/chat/completions', { model: 'llama3.2', messages });
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ error: { message: MESSAGE, type: 'api_error', param: null, code: null } });
    // Given up at the cap, not at the relay's safety net.
    expect(relay.sent() - before).toBeLessThan(2 * MAX_LINE_BYTES);
  });

  it('Anthropic: 502 api_error naming the cap', async () => {
    const response = await post('/v1/messages', { model: 'llama3.2', max_tokens: 5, messages });
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'api_error', message: MESSAGE } });
  });

  it('native, streamed: the error as Ollama reports one mid-stream, and an upstream_error in the usage log', async () => {
    const response = await post('/api/chat', { model: 'llama3.2', messages });
    expect(response.status).toBe(200);
    // The 256 MiB passed through before the error are read and dropped; only the end is kept.
    let tail = '';
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) tail = (tail + Buffer.from(chunk).toString('latin1')).slice(-1024);
    expect(tail.endsWith(`${JSON.stringify({ error: MESSAGE })}\n`)).toBe(true);
    await eventually(() => expect(gateway.usageLines().filter((line) => line.dialect === 'ollama').at(-1)).toMatchObject({ outcome: 'upstream_error' }));
  });
});
