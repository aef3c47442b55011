import OpenAI from 'openai';
import { countTokens, estimatePromptTokens } from '@llmproxy/metering';
import { countPromptTokens, fakeEmbedding, startFakeOllama, type FakeOllama, type RecordedRequest } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const databases = await testDatabases();

interface WindowUsage {
  requests: number;
  tokens: number;
  reserved_tokens: number;
}

interface OllamaChatBody {
  model: string;
  stream: boolean;
  messages: { role: string; content: string; images?: string[]; tool_calls?: { id?: string; function: { name: string; arguments: unknown } }[]; tool_name?: string }[];
  tools?: unknown[];
  options?: Record<string, unknown>;
  think?: unknown;
}

const WEATHER_TOOL: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

// A 1x1 transparent PNG.
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

describe.each(databases)('OpenAI API through the gateway on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;
  let client: OpenAI;

  const openaiFor = (apiKey: string) => new OpenAI({ baseURL: `${gateway.proxyUrl}/v1`, apiKey });
  const chatRequest = () => upstream.waitForRequest((r) => r.path === '/api/chat');
  const sentBody = (request: RecordedRequest) => request.body as OllamaChatBody;
  const usage = async (apiKey: string): Promise<{ day: WindowUsage }> => {
    const response = await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as { day: WindowUsage };
  };
  const settled = (apiKey: string) =>
    eventually(async () => {
      const own = await usage(apiKey);
      if (own.day.reserved_tokens !== 0) throw new Error('reservation not settled yet');
      return own;
    });

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database.create(), upstream.url);
    key = (await gateway.createKey({ name: 'openai-user' })).key;
    client = openaiFor(key);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await database.dropAll();
  });

  beforeEach(() => upstream.reset());

  describe('chat completions', () => {
    it('answers non-streaming with the text, Ollama’s counts as usage and the requested model name', async () => {
      const completion = await client.chat.completions.create({
        model: 'llama3.2',
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'say hello please' },
        ],
      });
      const sent = await chatRequest();
      const body = sentBody(sent);
      expect(body).toMatchObject({ model: 'llama3.2:latest', stream: true, options: { num_ctx: 65_536 } });
      expect(body.messages).toEqual([
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'say hello please' },
      ]);
      expect(completion).toMatchObject({ object: 'chat.completion', model: 'llama3.2' });
      expect(completion.id).toMatch(/^chatcmpl-/);
      expect(completion.choices).toHaveLength(1);
      expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Hello there! How can I help you?' });
      expect(completion.choices[0]!.finish_reason).toBe('stop');
      const prompt = countPromptTokens(body);
      expect(completion.usage).toEqual({ prompt_tokens: prompt, completion_tokens: 8, total_tokens: prompt + 8 });
    });

    it('streams deltas as they arrive and ends with a usage chunk when include_usage is set', async () => {
      upstream.enqueue({ tokens: ['Grüße', ' aus', ' Berlin', ' 🐻'], splitWrites: true });
      const stream = await client.chat.completions.create({
        model: 'llama3.2:latest',
        messages: [{ role: 'user', content: 'greet me from berlin' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);

      expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(text).toBe('Grüße aus Berlin 🐻');
      expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
      expect(chunks.every((c) => c.model === 'llama3.2:latest' && c.object === 'chat.completion.chunk')).toBe(true);
      const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
      expect(finish.map((c) => c.choices[0]!.finish_reason)).toEqual(['stop']);
      const last = chunks.at(-1)!;
      const prompt = countPromptTokens({ messages: [{ content: 'greet me from berlin' }] });
      expect(last.choices).toEqual([]);
      expect(last.usage).toEqual({ prompt_tokens: prompt, completion_tokens: 4, total_tokens: prompt + 4 });
    });

    it('buffers nothing: the upstream holds its second chunk until the client has the first', async () => {
      upstream.enqueue({ tokens: ['first', ' second', ' third'], holdAfterChunks: 1 });
      const stream = await client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'go' }], stream: true });
      let text = '';
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta.content ?? '';
        if (delta === 'first') {
          // Only reachable if the gateway forwarded the first chunk while Ollama still held the rest.
          expect(upstream.heldCount).toBe(1);
          expect(upstream.release()).toBe(1);
        }
        text += delta;
      }
      expect(text).toBe('first second third');
    });

    it('streams a tool call that the SDK’s stream helper assembles into finish_reason tool_calls', async () => {
      upstream.enqueue({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Berlin', unit: 'celsius' } }] });
      const runner = client.chat.completions.stream({
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'weather in berlin?' }],
        tools: [WEATHER_TOOL],
      });
      const final = await runner.finalChatCompletion();
      const choice = final.choices[0]!;
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.tool_calls).toHaveLength(1);
      const call = choice.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
      expect(call.id).toMatch(/^call_/);
      expect(call.type).toBe('function');
      expect(call.function.name).toBe('get_weather');
      expect(typeof call.function.arguments).toBe('string');
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Berlin', unit: 'celsius' });
      const body = sentBody(await chatRequest());
      expect(body.tools).toEqual([{ type: 'function', function: WEATHER_TOOL.function }]);
    });

    it('completes a tool round trip: tool call, tool result, final answer', async () => {
      upstream.enqueue({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Berlin' } }] }, { text: 'It is sunny in Berlin.' });
      const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather in berlin?' }];
      const first = await client.chat.completions.create({ model: 'llama3.2', messages, tools: [WEATHER_TOOL] });
      expect(first.choices[0]!.finish_reason).toBe('tool_calls');
      const message = first.choices[0]!.message;
      expect(message.content).toBeNull();
      const call = message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Berlin' });

      messages.push(message, { role: 'tool', tool_call_id: call.id, content: '{"sky":"sunny","celsius":21}' });
      const second = await client.chat.completions.create({ model: 'llama3.2', messages, tools: [WEATHER_TOOL] });
      expect(second.choices[0]!.message.content).toBe('It is sunny in Berlin.');
      expect(second.choices[0]!.finish_reason).toBe('stop');

      await chatRequest();
      const body = sentBody(await chatRequest());
      expect(body.messages[1]).toMatchObject({
        role: 'assistant',
        tool_calls: [{ id: call.id, function: { name: 'get_weather', arguments: { city: 'Berlin' } } }],
      });
      expect(body.messages[2]).toMatchObject({ role: 'tool', tool_name: 'get_weather', content: '{"sky":"sunny","celsius":21}' });
    });

    it('sends data-URL images to Ollama as base64 images', async () => {
      const completion = await client.chat.completions.create({
        model: 'llama3.2',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is in this picture?' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_BASE64}` } },
            ],
          },
        ],
      });
      expect(completion.choices[0]!.message.content).toBe('Hello there! How can I help you?');
      const body = sentBody(await chatRequest());
      expect(body.messages).toEqual([{ role: 'user', content: 'what is in this picture?', images: [PNG_BASE64] }]);
    });

    it('refuses a remote image URL with a clear 400 and never calls Ollama', async () => {
      const error = await client.chat.completions
        .create({
          model: 'llama3.2',
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'describe' },
                { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
              ],
            },
          ],
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      const bad = error as InstanceType<typeof OpenAI.BadRequestError>;
      expect(bad.status).toBe(400);
      expect(bad.message).toMatch(/Remote image URLs are not supported.*base64 data URL/);
      expect(bad.param).toBe('messages[0].content[1].image_url.url');
      expect(bad.type).toBe('invalid_request_error');
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
    });

    it('passes max_completion_tokens as num_predict and ends a cut answer with finish_reason length', async () => {
      const stream = await client.chat.completions.create({
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'hello' }],
        max_completion_tokens: 3,
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null | undefined;
      let completionTokens: number | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
      }
      expect(text).toBe('Hello there!');
      expect(finish).toBe('length');
      expect(completionTokens).toBe(3);
      expect(sentBody(await chatRequest()).options).toMatchObject({ num_predict: 3 });

      await client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
      expect(sentBody(await chatRequest()).options).toMatchObject({ num_predict: 5 });
    });

    it('sends think only to a thinking-capable model, from reasoning_effort', async () => {
      upstream.enqueue({ thinking: ['Let', ' me', ' think'], tokens: ['Four.'] });
      const thought = await client.chat.completions.create({
        model: 'qwen3:4b',
        messages: [{ role: 'user', content: 'two plus two?' }],
        reasoning_effort: 'high',
      });
      expect(sentBody(await chatRequest()).think).toBe('high');
      expect(thought.choices[0]!.message.content).toBe('Four.');
      expect((thought.choices[0]!.message as unknown as { reasoning?: string }).reasoning).toBe('Let me think');
      expect(thought.usage?.completion_tokens).toBe(4);

      const plain = await client.chat.completions.create({
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'two plus two?' }],
        reasoning_effort: 'high',
      });
      expect(plain.choices[0]!.message.content).toBe('Hello there! How can I help you?');
      expect(sentBody(await chatRequest())).not.toHaveProperty('think');
    });

    it('ends the stream with an error the SDK raises when Ollama fails mid-stream, and settles the reservation', async () => {
      const own = await gateway.createKey({ name: 'midstream', daily_token_limit: 10_000 });
      upstream.enqueue({ tokens: ['alpha', ' beta', ' gamma', ' delta'], midStreamError: { afterChunks: 2, error: 'model runner has unexpectedly stopped' } });
      const stream = await openaiFor(own.key).chat.completions.create({
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'go on' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      const error = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as Error).message).toContain('model runner has unexpectedly stopped');
      expect(text).toBe('alpha beta');

      const settledUsage = await settled(own.key);
      const line = await eventually(() => {
        const found = gateway.usageLines().find((l) => l.key_name === 'midstream');
        if (!found) throw new Error('no usage line yet');
        return found;
      });
      expect(line).toMatchObject({ dialect: 'openai', route: '/v1/chat/completions', model: 'llama3.2:latest', outcome: 'upstream_error', tokens_exact: false, stream: true });
      expect(line.completion_tokens).toBe(countTokens('alpha beta'));
      expect(settledUsage.day.requests).toBe(1);
      expect(settledUsage.day.tokens).toBe((line.prompt_tokens as number) + (line.completion_tokens as number));
      expect(settledUsage.day.tokens).toBeGreaterThan(0);
    });

    it('aborts Ollama when the client aborts a stream and charges what was generated', async () => {
      const own = await gateway.createKey({ name: 'aborter', daily_token_limit: 10_000 });
      upstream.enqueue({ tokens: ['one', ' two', ' three', ' four'], holdAfterChunks: 2 });
      const stream = await openaiFor(own.key).chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'count' }], stream: true });
      const seen = await chatRequest();
      let text = '';
      // The SDK ends the iteration quietly when its own controller aborts.
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (text === 'one two') stream.controller.abort();
      }
      expect(text).toBe('one two');
      expect(await seen.settled).toBe('aborted');
      const line = await eventually(() => {
        const found = gateway.usageLines().find((l) => l.key_name === 'aborter');
        if (!found) throw new Error('no usage line yet');
        return found;
      });
      expect(line).toMatchObject({ outcome: 'client_aborted', tokens_exact: false, completion_tokens: countTokens('one two') });
      expect((await settled(own.key)).day.tokens).toBe((line.prompt_tokens as number) + (line.completion_tokens as number));
    });

    it('writes an exact usage line for a completed request', async () => {
      const own = await gateway.createKey({ name: 'exact' });
      const completion = await openaiFor(own.key).chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'one two three' }] });
      const line = await eventually(() => {
        const found = gateway.usageLines().find((l) => l.key_name === 'exact');
        if (!found) throw new Error('no usage line yet');
        return found;
      });
      expect(line).toMatchObject({
        dialect: 'openai',
        outcome: 'ok',
        tokens_exact: true,
        stream: false,
        prompt_tokens: completion.usage!.prompt_tokens,
        completion_tokens: completion.usage!.completion_tokens,
      });
    });
  });

  describe('quotas', () => {
    it('caps the answer to the remaining daily tokens (finish_reason length), then refuses with RateLimitError', async () => {
      const own = await gateway.createKey({ name: 'capped', daily_token_limit: 40 });
      const capped = openaiFor(own.key);
      upstream.enqueue({ tokens: Array.from({ length: 100 }, (_, i) => ` w${i}`) });
      const body = { model: 'llama3.2', messages: [{ role: 'user' as const, content: 'count to a hundred' }] };
      const answer = await capped.chat.completions.create(body);
      const estimate = estimatePromptTokens(body);
      expect(answer.choices[0]!.finish_reason).toBe('length');
      expect(answer.usage!.completion_tokens).toBe(40 - estimate);
      expect(sentBody(await chatRequest()).options).toMatchObject({ num_predict: 40 - estimate });
      await settled(own.key);

      const error = await capped.chat.completions.create(body).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      const limited = error as InstanceType<typeof OpenAI.RateLimitError>;
      expect(limited.status).toBe(429);
      expect(limited.type).toBe('rate_limit_exceeded');
      expect(limited.code).toBe('rate_limit_exceeded');
      expect(limited.message).toContain('daily token quota of 40 exhausted');
      expect(Number(limited.headers?.get('retry-after'))).toBeGreaterThan(0);
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(1);
    });

    it('sets x-ratelimit headers on an admitted response', async () => {
      const own = await gateway.createKey({ name: 'headers', daily_request_limit: 10, daily_token_limit: 5000 });
      const { data, response } = await openaiFor(own.key)
        .chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      expect(data.choices[0]!.message.content).toBe('Hello there! How can I help you?');
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('10');
      expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9');
      expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+h)?(\d+m)?\d+s$/);
      expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('5000');
      expect(Number(response.headers.get('x-ratelimit-remaining-tokens'))).toBeLessThan(5000);

      const raw = await openaiFor(own.key)
        .chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true })
        .asResponse();
      expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(raw.headers.get('x-ratelimit-remaining-requests')).toBe('8');
      await raw.body?.cancel();
    });

    it('does not count model list reads against the request quota', async () => {
      const own = await gateway.createKey({ name: 'catalogue', daily_request_limit: 1 });
      const limited = openaiFor(own.key);
      for (let i = 0; i < 3; i++) expect((await limited.models.list()).data.length).toBeGreaterThan(0);
      await limited.models.retrieve('llama3.2:latest');
      expect((await usage(own.key)).day.requests).toBe(0);
      await limited.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
      await expect(limited.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(
        OpenAI.RateLimitError,
      );
    });
  });

  describe('errors', () => {
    it('answers an unknown model (no alias, no default) with NotFoundError, as OpenAI does: an invalid request, model_not_found', async () => {
      const error = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      const missing = error as InstanceType<typeof OpenAI.NotFoundError>;
      expect(missing.type).toBe('invalid_request_error');
      expect(missing.code).toBe('model_not_found');
      expect(missing.param).toBe('model');
      expect(missing.message).toContain("'gpt-4o' not found");
      expect(missing.message).toContain('no default model is configured');
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
    });

    it('refuses a wrong key with AuthenticationError', async () => {
      const error = await openaiFor('sk-not-a-real-key').chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
      await expect(openaiFor('sk-not-a-real-key').models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      expect(upstream.requests).toHaveLength(0);
    });

    it('holds a key to its allow-list: filtered model list, PermissionDeniedError for other models', async () => {
      const own = await gateway.createKey({ name: 'restricted', allowed_models: ['llama3.2'] });
      const restricted = openaiFor(own.key);
      expect((await restricted.models.list()).data.map((m) => m.id)).toEqual(['llama3.2:latest']);
      await expect(restricted.models.retrieve('qwen3:4b')).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
      const error = await restricted.chat.completions.create({ model: 'qwen3:4b', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((error as Error).message).toContain("model 'qwen3:4b' is not allowed");
      await expect(restricted.embeddings.create({ model: 'nomic-embed-text', input: 'x' })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((await restricted.chat.completions.create({ model: 'llama3.2:latest', messages: [{ role: 'user', content: 'hi' }] })).choices).toHaveLength(1);
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(1);
    });

    it('answers malformed JSON and wrong types with 400 in OpenAI’s error shape, never 500', async () => {
      const post = (body: string) =>
        fetch(`${gateway.proxyUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
        });
      const cases: [string, string | null][] = [
        ['{"model": "llama3.2", "messages": [', null],
        ['', null],
        ['[1, 2]', null],
        ['"just a string"', null],
        [JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }), 'model'],
        [JSON.stringify({ model: 42, messages: [{ role: 'user', content: 'hi' }] }), 'model'],
        [JSON.stringify({ model: 'llama3.2' }), 'messages'],
        [JSON.stringify({ model: 'llama3.2', messages: 'hi' }), 'messages'],
        [JSON.stringify({ model: 'llama3.2', messages: [] }), 'messages'],
        [JSON.stringify({ model: 'llama3.2', messages: [{ role: 'wizard', content: 'hi' }] }), 'messages[0].role'],
        [JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 42 }] }), 'messages[0].content'],
        [JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' }), 'temperature'],
        [JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: -1 }), 'max_tokens'],
        [JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: 'yes' }), 'stream'],
        [JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], tools: {} }), 'tools'],
        [JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], n: 3 }), 'n'],
        [JSON.stringify({ model: 'llama3.2', messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] }), 'messages[0].tool_calls[0].function.arguments'],
      ];
      for (const [body, param] of cases) {
        const response = await post(body);
        expect({ body, status: response.status }).toEqual({ body, status: 400 });
        expect(response.headers.get('content-type')).toMatch(/^application\/json/);
        const parsed = (await response.json()) as { error: Record<string, unknown> };
        expect(parsed).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code: null } });
      }
      expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);

      // Fields the gateway does not know are ignored.
      const ok = await post(JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], user: 'u-1', logit_bias: { '42': 1 }, metadata: { a: 'b' }, store: true, something_new: [1] }));
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as OpenAI.Chat.Completions.ChatCompletion).choices[0]!.message.content).toBe('Hello there! How can I help you?');
    });

    it('answers 502 in OpenAI’s shape when Ollama is down', async () => {
      const dead = await startFakeOllama();
      const deadUrl = dead.url;
      await dead.close();
      const lonely = await startTestGateway(await database.create(), deadUrl);
      try {
        const lonelyKey = (await lonely.createKey({ name: 'lonely' })).key;
        // Three calls to a dead Ollama: the default two retries with backoff would add ~4 s and prove nothing more.
        const sdk = new OpenAI({ baseURL: `${lonely.proxyUrl}/v1`, apiKey: lonelyKey, maxRetries: 0 });
        for (const call of [
          () => sdk.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }),
          () => sdk.models.list(),
          () => sdk.embeddings.create({ model: 'nomic-embed-text', input: 'hi' }),
        ]) {
          const error = await call().catch((e: unknown) => e);
          expect(error).toBeInstanceOf(OpenAI.InternalServerError);
          expect((error as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(502);
          expect((error as Error).message).toContain('unreachable');
          expect((error as InstanceType<typeof OpenAI.InternalServerError>).type).toBe('api_error');
        }
      } finally {
        await lonely.close();
      }
    });

    it('answers 502 in OpenAI’s shape when Ollama refuses before streaming', async () => {
      upstream.enqueue({ status: 500, error: 'llama runner process has terminated' });
      // One scripted failure: at its defaults the SDK would retry the 502 and get the default reply.
      const error = await client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }, { maxRetries: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect((error as Error).message).toContain('llama runner process has terminated');
    });
  });

  describe('models', () => {
    it('lists Ollama’s models and retrieves one by a name with a colon', async () => {
      const list = await client.models.list();
      const ids = list.data.map((m) => m.id);
      expect(ids).toEqual(['llama3.2:latest', 'qwen3:4b', 'nomic-embed-text:latest']);
      expect(list.data[0]).toEqual({ id: 'llama3.2:latest', object: 'model', created: expect.any(Number), owned_by: 'library' });
      expect(list.data[0]!.created).toBeGreaterThan(1_700_000_000);

      const model = await client.models.retrieve('llama3.2:latest');
      expect(model).toMatchObject({ id: 'llama3.2:latest', object: 'model', owned_by: 'library' });
      expect((await client.models.retrieve('llama3.2')).id).toBe('llama3.2');
      await expect(client.models.retrieve('no-such-model:7b')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it('reports each model’s context window: num_ctx, capped by the model’s own context length', async () => {
      // llama3.2 is trained for 131,072 tokens and runs with the gateway's num_ctx (65,536); qwen3:4b's own 40,960 is the cap.
      expect(await client.models.retrieve('llama3.2:latest')).toMatchObject({ id: 'llama3.2:latest', context_window: 65_536 });
      expect(await client.models.retrieve('qwen3:4b')).toMatchObject({ id: 'qwen3:4b', context_window: 40_960 });
      // A vendor name is answered for the model that would serve it (the default model), under the name asked for.
      expect((await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ default_model: 'qwen3:4b' }) })).status).toBe(200);
      expect(await client.models.retrieve('gpt-4o')).toMatchObject({ id: 'gpt-4o', object: 'model', context_window: 40_960 });
      const anthropicShape = await fetch(`${gateway.proxyUrl}/v1/models/claude-sonnet-4-6`, { headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
      expect(await anthropicShape.json()).toMatchObject({ type: 'model', id: 'claude-sonnet-4-6', context_window: 40_960 });
      expect((await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ default_model: null }) })).status).toBe(200);
      await expect(client.models.retrieve('gpt-4o')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it('accepts model names with slashes in the path', async () => {
      const response = await fetch(`${gateway.proxyUrl}/v1/models/someone/llama3.2:latest`, { headers: { authorization: `Bearer ${key}` } });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: expect.objectContaining({ message: expect.stringContaining("model 'someone/llama3.2:latest' not found"), type: 'invalid_request_error', code: 'model_not_found' }) });
    });

    it('answers Anthropic’s list shape when the request carries anthropic-version (Claude Code model discovery)', async () => {
      const headers = { 'x-api-key': key, 'anthropic-version': '2023-06-01' };
      const response = await fetch(`${gateway.proxyUrl}/v1/models`, { headers });
      expect(response.status).toBe(200);
      const list = (await response.json()) as { data: { type: string; id: string; display_name: string; created_at: string }[]; has_more: boolean; first_id: string };
      expect(list.data.map((m) => m.id)).toEqual(['llama3.2:latest', 'qwen3:4b', 'nomic-embed-text:latest']);
      expect(list.data[0]).toEqual({ type: 'model', id: 'llama3.2:latest', display_name: 'llama3.2:latest', created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
      expect(list).toMatchObject({ has_more: false, first_id: 'llama3.2:latest', last_id: 'nomic-embed-text:latest' });

      const one = await fetch(`${gateway.proxyUrl}/v1/models/qwen3:4b`, { headers });
      expect(await one.json()).toMatchObject({ type: 'model', id: 'qwen3:4b' });
      const missing = await fetch(`${gateway.proxyUrl}/v1/models/nope`, { headers });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining("model 'nope' not found") }, request_id: expect.any(String) });
      const unauthorized = await fetch(`${gateway.proxyUrl}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } });
      expect(unauthorized.status).toBe(401);
      expect(await unauthorized.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) }, request_id: expect.any(String) });
    });
  });

  describe('embeddings', () => {
    it('embeds with the SDK’s default base64 encoding, decoded to Ollama’s vectors, with usage', async () => {
      const inputs = ['the quick brown fox', 'jumps'];
      const result = await client.embeddings.create({ model: 'nomic-embed-text', input: inputs });
      expect(result.model).toBe('nomic-embed-text');
      expect(result.object).toBe('list');
      expect(result.data.map((d) => d.index)).toEqual([0, 1]);
      result.data.forEach((entry, i) => {
        const expected = fakeEmbedding(inputs[i]!);
        expect(entry.embedding).toHaveLength(expected.length);
        entry.embedding.forEach((value, j) => expect(value).toBeCloseTo(expected[j]!, 6));
      });
      expect(result.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });

      const sent = await upstream.waitForRequest((r) => r.path === '/api/embed');
      expect(sent.body).toEqual({ model: 'nomic-embed-text:latest', input: inputs });

      const floats = await client.embeddings.create({ model: 'nomic-embed-text', input: 'jumps', encoding_format: 'float' });
      floats.data[0]!.embedding.forEach((value, j) => expect(value).toBeCloseTo(fakeEmbedding('jumps')[j]!, 6));
    });

    it('counts embeddings against the request quota and charges their prompt tokens', async () => {
      const own = await gateway.createKey({ name: 'embedder', daily_request_limit: 5, daily_token_limit: 1000 });
      await openaiFor(own.key).embeddings.create({ model: 'nomic-embed-text', input: 'one two three' });
      const after = await settled(own.key);
      expect(after.day).toMatchObject({ requests: 1, tokens: 3 });
    });
  });
});
