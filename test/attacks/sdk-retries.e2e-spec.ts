/**
 * The official clients at their DEFAULT settings (no maxRetries, no timeout) against quota refusals.
 * Both honour Retry-After before a retry — up to ~24 days for Anthropic's, without a cap for
 * OpenAI's — so a refusal for an exhausted window (Retry-After: seconds until it resets) must carry
 * `x-should-retry: false` or the call sleeps for hours. A refusal the key's own requests in flight
 * cause (Retry-After: 1) is worth retrying, and the SDK does.
 *
 * Attempts are counted twice: by a `fetch` handed to the client (the SDK's own HTTP calls; handing
 * one over leaves its retry settings alone) and by the gateway's refusal counter.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';
import { testDatabases } from '../support/databases.js';
import { eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const databases = await testDatabases();

/** How long a test waits for the SDK before calling it hung (it would sleep until midnight). */
const HUNG_AFTER_MS = 5_000;

type Sdk = 'openai' | 'anthropic';

interface Attempt {
  status: number;
  retryAfter: string | null;
  shouldRetry: string | null;
}

/** A client of `sdk` at its default retry and timeout settings whose HTTP attempts are recorded. */
function defaultClient(sdk: Sdk, proxyUrl: string, apiKey: string) {
  const attempts: Attempt[] = [];
  const onResponse: { hook?: (attempt: Attempt) => void } = {};
  const counting: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const attempt = { status: response.status, retryAfter: response.headers.get('retry-after'), shouldRetry: response.headers.get('x-should-retry') };
    attempts.push(attempt);
    onResponse.hook?.(attempt);
    return response;
  };
  const call =
    sdk === 'openai'
      ? (signal: AbortSignal) =>
          new OpenAI({ baseURL: `${proxyUrl}/v1`, apiKey, fetch: counting }).chat.completions.create(
            { model: 'llama3.2', messages: [{ role: 'user', content: 'hello' }] },
            { signal },
          )
      : (signal: AbortSignal) =>
          new Anthropic({ baseURL: proxyUrl, apiKey, fetch: counting }).messages.create(
            { model: 'llama3.2', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }] },
            { signal },
          );
  return { attempts, onResponse, call };
}

/**
 * Runs the call and reports how it settled and when. A call still pending after HUNG_AFTER_MS is
 * reported as hung and aborted, so a broken gateway fails the test in seconds rather than at
 * midnight (OpenAI's client sleeps through the abort: its timer outlives the failed test).
 */
async function timed(call: (signal: AbortSignal) => Promise<unknown>): Promise<{ ms: number; result?: unknown; error?: unknown; hung: boolean }> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), HUNG_AFTER_MS);
  });
  const started = performance.now();
  const settled = call(abort.signal).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  const outcome = await Promise.race([settled, hung]);
  clearTimeout(timer);
  const ms = performance.now() - started;
  if (outcome === 'hung') {
    abort.abort();
    return { ms, hung: true };
  }
  return { ms, ...outcome, hung: false };
}

describe.each(databases)('the official SDKs at their default retry settings against quota refusals on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database.create(), upstream.url);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await database.dropAll();
  });

  beforeEach(() => upstream.reset());

  const refusals = async (kind: string): Promise<number> => {
    const metric = await gateway.shared.metrics.registry.getSingleMetric('llmproxy_quota_refusals_total')!.get();
    return metric.values.find((value) => value.labels.kind === kind)?.value ?? 0;
  };

  const chats = () => upstream.requests.filter((r) => r.path === '/api/chat').length;

  const spendOne = async (key: string) => {
    const response = await fetch(`${gateway.proxyUrl}/api/chat`, {
      method: 'POST',
      headers: { 'x-api-key': key },
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hello' }], stream: false }),
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  };

  /** A key whose daily window of `kind` is used up by one request: the next refusal lasts until midnight. */
  const exhaustedKey = async (kind: 'tokens' | 'requests', name: string): Promise<string> => {
    const { key, id } = await gateway.createKey({ name, ...(kind === 'requests' ? { daily_request_limit: 1 } : { daily_token_limit: 1_000 }) });
    await spendOne(key);
    if (kind === 'tokens') {
      const used = await eventually(async () => {
        const own = (await (await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { 'x-api-key': key } })).json()) as { day: { tokens: number; reserved_tokens: number } };
        if (own.day.reserved_tokens !== 0 || own.day.tokens === 0) throw new Error('not settled yet');
        return own.day.tokens;
      });
      const patched = await gateway.admin(`/api/api-keys/${id}/quota`, { method: 'PATCH', body: JSON.stringify({ daily_token_limit: used }) });
      expect(patched.status).toBe(200);
    }
    return key;
  };

  describe.each(['tokens', 'requests'] as const)('a key whose daily %s quota is exhausted', (kind) => {
    const quota = kind === 'tokens' ? 'token' : 'request';

    it('OpenAI: chat.completions.create rejects at once with RateLimitError, after one attempt', async () => {
      const key = await exhaustedKey(kind, `openai-${kind}`);
      const client = defaultClient('openai', gateway.proxyUrl, key);
      const before = await refusals(kind);
      const chatsBefore = chats();
      const outcome = await timed(client.call);
      // One attempt, told not to retry, and no sleep (before the fix it slept for Retry-After: hours);
      // a hung call shows the Retry-After it sleeps for. No wall-clock bound: a loaded CI machine took 1.1 s.
      expect({ hung: outcome.hung, attempts: client.attempts }).toEqual({ hung: false, attempts: [{ status: 429, retryAfter: expect.any(String), shouldRetry: 'false' }] });
      expect(outcome.error).toBeInstanceOf(OpenAI.RateLimitError);
      const error = outcome.error as InstanceType<typeof OpenAI.RateLimitError>;
      expect(error.status).toBe(429);
      expect(error.error).toEqual({
        message: expect.stringMatching(new RegExp(`^daily ${quota} quota of \\d+ exhausted; resets `)),
        type: 'rate_limit_exceeded',
        param: null,
        code: 'rate_limit_exceeded',
      });
      // Retry-After still says when the window resets (hours), for clients that read it themselves.
      expect(Number(error.headers?.get('retry-after'))).toBeGreaterThan(1);
      expect((await refusals(kind)) - before).toBe(1);
      expect(chats()).toBe(chatsBefore);
    });

    it('Anthropic: messages.create rejects at once with RateLimitError (rate_limit_error), after one attempt', async () => {
      const key = await exhaustedKey(kind, `anthropic-${kind}`);
      const client = defaultClient('anthropic', gateway.proxyUrl, key);
      const before = await refusals(kind);
      const chatsBefore = chats();
      const outcome = await timed(client.call);
      // One attempt, told not to retry, and no sleep (before the fix it slept for Retry-After: hours);
      // a hung call shows the Retry-After it sleeps for. No wall-clock bound: a loaded CI machine took 1.1 s.
      expect({ hung: outcome.hung, attempts: client.attempts }).toEqual({ hung: false, attempts: [{ status: 429, retryAfter: expect.any(String), shouldRetry: 'false' }] });
      expect(outcome.error).toBeInstanceOf(Anthropic.RateLimitError);
      const error = outcome.error as InstanceType<typeof Anthropic.RateLimitError>;
      expect(error.status).toBe(429);
      expect(error.error).toEqual({
        type: 'error',
        error: { type: 'rate_limit_error', message: expect.stringMatching(new RegExp(`^daily ${quota} quota of \\d+ exhausted; resets `)) },
        request_id: expect.any(String),
      });
      expect((await refusals(kind)) - before).toBe(1);
      expect(chats()).toBe(chatsBefore);
    });
  });

  describe('a key held at max_concurrent 1 by its own stream in flight', () => {
    it.each(['openai', 'anthropic'] as const)('%s: the SDK waits Retry-After: 1, retries once the stream ends, and succeeds', async (sdk) => {
      const { key, id } = await gateway.createKey({ name: `held-${sdk}`, max_concurrent: 1 });
      upstream.enqueue({ tokens: ['held', ' slot'], holdAfterChunks: 1 });
      const holder = await fetch(`${gateway.proxyUrl}/api/chat`, {
        method: 'POST',
        headers: { 'x-api-key': key },
        body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hold' }], stream: true }),
      });
      expect(holder.status).toBe(200);
      await upstream.waitForHold();

      const client = defaultClient(sdk, gateway.proxyUrl, key);
      // The slot frees as soon as the first refusal is seen, well before the SDK's retry a second later.
      client.onResponse.hook = (attempt) => {
        if (attempt.status === 429) upstream.release();
      };
      const before = await refusals('concurrency');
      const outcome = await timed(client.call);
      await holder.text();

      expect(outcome.error).toBeUndefined();
      expect(outcome.hung).toBe(false);
      expect(client.attempts).toEqual([
        { status: 429, retryAfter: '1', shouldRetry: 'true' },
        { status: 200, retryAfter: null, shouldRetry: null },
      ]);
      // The SDK honoured Retry-After: 1 rather than its own shorter backoff.
      expect(outcome.ms).toBeGreaterThanOrEqual(1_000);
      expect((await refusals('concurrency')) - before).toBe(1);
      const text = sdk === 'openai' ? (outcome.result as OpenAI.Chat.ChatCompletion).choices[0]!.message.content : ((outcome.result as Anthropic.Message).content[0] as Anthropic.TextBlock).text;
      expect(text).toBe('Hello there! How can I help you?');
      // The gateway served the holder and the retry (two ok lines); the refusal is logged as refused,
      // with the 429 the client got, and is not a counted request.
      await eventually(() => {
        const lines = gateway.usageLines().filter((line) => line.key_id === id);
        expect(lines.map((line) => `${line.outcome} ${line.status}`).sort()).toEqual(['ok 200', 'ok 200', 'refused 429']);
      });
    });
  });
});
