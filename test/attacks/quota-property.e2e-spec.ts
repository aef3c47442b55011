/**
 * The standing property behind issue 13's attacks: whatever a key holder sends — any dialect,
 * streamed or not, completion limits of 0, negatives, fractions and huge numbers, options, aborts at
 * any moment, bursts in parallel — a key with a token limit L is never charged more than L (every
 * prompt here is English words, so the gateway's estimate is never below Ollama's count: the
 * "estimate error" of the invariant is 0), its counters equal its usage log, and nothing stays reserved.
 *
 * 2,000 generated sequences on SQLite and 300 on PostgreSQL in CI (PROPERTY_RUNS overrides both).
 */
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { startFakeOllama, type FakeOllama, type ReplyScript } from '../upstream/fake-ollama.js';
import { testDatabases } from '../support/databases.js';
import { closeWithFakeOllama, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';
import { post, type Json } from '../support/dialects.js';

const databases = await testDatabases();
const SEED = 20261204;
const RUNS: Record<string, number> = { sqlite: 2_000, postgres: 300 };
const runsFor = (name: string) => Number(process.env.PROPERTY_RUNS ?? RUNS[name]);

type Route = 'native-chat' | 'native-generate' | 'native-embed' | 'openai' | 'responses' | 'anthropic';

interface Attempt {
  route: Route;
  stream: boolean;
  /** The completion limit in the route's own field (absent when undefined). */
  limit: unknown;
  /** Extra native options or fields a hostile client adds. */
  extra: Json;
  words: number;
  replyTokens: number;
  /** Abort this many ms after sending; null = read to the end. */
  abortAfterMs: number | null;
}

const limitValue = fc.constantFrom<unknown>(undefined, 0, -1, -2, 0.5, 1.5, 1, 3, 17, 50, 1e308, 2 ** 63, '0', null);
const extra = fc.constantFrom<Json>({}, { keep_alive: 0 }, { keep_alive: -1 }, { options: { num_ctx: 1_000_000 } }, { options: { num_gpu: 0, temperature: 0.3 } });

const attempt: fc.Arbitrary<Attempt> = fc.record({
  route: fc.constantFrom<Route>('native-chat', 'native-generate', 'native-embed', 'openai', 'responses', 'anthropic'),
  stream: fc.boolean(),
  limit: limitValue,
  extra,
  words: fc.integer({ min: 1, max: 40 }),
  replyTokens: fc.integer({ min: 0, max: 40 }),
  abortAfterMs: fc.option(fc.integer({ min: 0, max: 15 }), { nil: null, freq: 3 }),
});

/** Steps run one after another; the attempts of one step run in parallel (a burst). */
const sequence = fc.record({
  tokenLimit: fc.integer({ min: 5, max: 300 }),
  steps: fc.array(fc.array(attempt, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
});

function words(n: number): string {
  return Array.from({ length: n }, (_, i) => ['apple', 'river', 'stone', 'cloud', 'green'][i % 5]).join(' ');
}

function request(a: Attempt): { path: string; body: Json } {
  const content = words(a.words);
  const messages = [{ role: 'user', content }];
  switch (a.route) {
    case 'native-chat':
      return { path: '/api/chat', body: { model: 'llama3.2', messages, stream: a.stream, ...a.extra, options: { ...((a.extra.options as Json) ?? {}), ...(a.limit === undefined ? {} : { num_predict: a.limit }) } } };
    case 'native-generate':
      return { path: '/api/generate', body: { model: 'llama3.2', prompt: content, stream: a.stream, ...a.extra, options: { ...((a.extra.options as Json) ?? {}), ...(a.limit === undefined ? {} : { num_predict: a.limit }) } } };
    case 'native-embed':
      return { path: '/api/embed', body: { model: 'nomic-embed-text', input: content, ...a.extra } };
    case 'openai':
      return { path: '/v1/chat/completions', body: { model: 'llama3.2', messages, stream: a.stream, ...(a.limit === undefined ? {} : { max_tokens: a.limit }) } };
    case 'responses':
      return { path: '/v1/responses', body: { model: 'llama3.2', input: content, stream: a.stream, store: false, ...(a.limit === undefined ? {} : { max_output_tokens: a.limit }) } };
    case 'anthropic':
      return { path: '/v1/messages', body: { model: 'llama3.2', messages, stream: a.stream, max_tokens: a.limit ?? 64 } };
  }
}

const REPLY_WORDS = [' alpha', ' beta', ' gamma', ' delta'];
function reply(a: Attempt): ReplyScript {
  return { tokens: Array.from({ length: a.replyTokens }, (_, i) => REPLY_WORDS[i % REPLY_WORDS.length]!), chunkDelayMs: a.abortAfterMs === null ? 0 : 1 };
}

async function send(gateway: TestGateway, key: string, a: Attempt): Promise<void> {
  const { path, body } = request(a);
  const controller = new AbortController();
  const timer = a.abortAfterMs === null ? undefined : setTimeout(() => controller.abort(), a.abortAfterMs);
  try {
    const response = await post(gateway.proxyUrl, path, key, body, false, controller.signal);
    await response.arrayBuffer();
  } catch {
    // aborted by this test
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the usage log's new lines since the last call (the file grows to tens of thousands of lines). */
function usageTail(logFile: string): () => Json[] {
  const offsets = new Map<string, number>();
  let partial = '';
  return () => {
    const dir = dirname(logFile);
    if (!existsSync(dir)) return [];
    const lines: Json[] = [];
    for (const name of readdirSync(dir).filter((n) => /^usage-\d{4}-\d\d-\d\d\.log$/.test(n)).sort()) {
      const file = join(dir, name);
      const from = offsets.get(file) ?? 0;
      const size = statSync(file).size;
      if (size <= from) continue;
      const buffer = Buffer.alloc(size - from);
      const fd = openSync(file, 'r');
      readSync(fd, buffer, 0, buffer.length, from);
      closeSync(fd);
      offsets.set(file, size);
      const text = partial + buffer.toString('utf8');
      const end = text.lastIndexOf('\n') + 1;
      partial = text.slice(end);
      for (const line of text.slice(0, end).split('\n')) if (line) lines.push(JSON.parse(line) as Json);
    }
    return lines;
  };
}

describe.each(databases)('quota property ($name)', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database.create(), upstream.url);
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });

  it(`${runsFor(database.name)} random sequences: never more than the limit charged, counters = usage log, nothing left reserved`, async () => {
    const tail = usageTail(gateway.logFile);
    const byKey = new Map<number, { requests: number; tokens: number }>();
    const readLog = () => {
      for (const line of tail()) {
        const id = line.key_id as number;
        const entry = byKey.get(id) ?? { requests: 0, tokens: 0 };
        if (line.outcome !== 'refused') entry.requests++;
        entry.tokens += ((line.prompt_tokens as number) ?? 0) + ((line.completion_tokens as number) ?? 0);
        byKey.set(id, entry);
      }
    };
    let sent = 0;
    const limits = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(sequence, async ({ tokenLimit, steps }) => {
        upstream.reset();
        const { key, id } = await gateway.createKey({ daily_token_limit: tokenLimit });
        for (const step of steps) {
          upstream.enqueue(...step.map(reply));
          await Promise.all(step.map((a) => send(gateway, key, a)));
          sent += step.length;
        }
        // An aborted client's fetch returns at once while the gateway may still be admitting its
        // request: the books are compared once they agree and nothing is reserved (eventually), and
        // every key once more at the end.
        await eventually(async () => {
          const response = await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } });
          const { day } = (await response.json()) as { day: { requests: number; tokens: number; reserved_tokens: number } };
          expect(day.tokens).toBeLessThanOrEqual(tokenLimit);
          expect(day.reserved_tokens).toBe(0);
          readLog();
          expect(byKey.get(id) ?? { requests: 0, tokens: 0 }).toEqual({ requests: day.requests, tokens: day.tokens });
        }, 10_000);
        limits.set(id, tokenLimit);
      }),
      { seed: SEED, numRuns: runsFor(database.name), endOnFailure: true },
    );
    expect(sent).toBeGreaterThanOrEqual(runsFor(database.name));
    // Every key once more, now that every request has long been answered: nothing open, books equal.
    await eventually(async () => {
      expect(gateway.shared.quota.unsettled).toBe(0);
      readLog();
      const keys = (await (await gateway.admin('/api/api-keys')).json()) as { id: number; usage: { day: { requests: number; tokens: number; reserved_tokens: number } } }[];
      const books = keys.filter((k) => limits.has(k.id)).map((k) => ({ id: k.id, ...k.usage.day, log: byKey.get(k.id) ?? { requests: 0, tokens: 0 } }));
      expect(books).toHaveLength(limits.size);
      for (const book of books) {
        expect(book).toEqual({ ...book, reserved_tokens: 0, requests: book.log.requests, tokens: book.log.tokens });
        expect(book.tokens).toBeLessThanOrEqual(limits.get(book.id)!);
      }
    }, 10_000);
  }, 900_000);
});
