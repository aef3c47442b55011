import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OllamaChatRequest, OllamaChunk } from '@llmproxy/ollama';
import OpenAI from 'openai';
import { DialectError } from '../dialect-error.js';
import { errorBody } from '../errors.js';
import { translateChatRequest } from './chat-request.js';
import { toChatCompletion } from './chat-response.js';
import { OpenAiStreamTranslator } from './chat-stream.js';
import { toEmbeddingsResponse, translateEmbeddingsRequest } from './embeddings.js';
import { toModelList } from './models.js';
import { OllamaAggregator } from './ollama-aggregator.js';
import {
  errorStream,
  lengthStream,
  multibyteStream,
  nonStreamedToolAnswer,
  parallelToolCallStream,
  textStream,
  thinkingStream,
  toolCallStream,
} from './testing/ollama-recordings.js';

/**
 * Proves the official openai client accepts what the translators produce: a tiny HTTP server plays
 * a recorded Ollama answer through the translators (no Nest, no Ollama), the SDK parses it.
 */

const CREATED = 1_772_359_200;

interface Gateway {
  client: OpenAI;
  /** The Ollama requests the translator produced, in order. */
  seen: OllamaChatRequest[];
  /** The Ollama answers to play, one per chat request, in order. */
  answers: OllamaChunk[][];
  /** Raw SSE frames written for the last streamed answer. */
  written: string[];
  /** Write the SSE bytes in these many-byte pieces instead of one write per frame. */
  splitEvery?: number;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return JSON.parse(Buffer.concat(parts).toString('utf8'));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function chat(gateway: Gateway, body: unknown, res: ServerResponse): Promise<void> {
  const translated = translateChatRequest(body, { model: 'qwen3:8b', thinkingCapable: true });
  gateway.seen.push(translated.request);
  const answer = gateway.answers.shift() ?? textStream;
  const id = `chatcmpl-${gateway.seen.length}`;

  if (!translated.stream) {
    const aggregator = new OllamaAggregator();
    for (const chunk of answer) aggregator.push(chunk);
    sendJson(res, 200, toChatCompletion(aggregator.result(), { id, created: CREATED, model: translated.requestedModel }));
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const translator = new OpenAiStreamTranslator({ id, created: CREATED, model: translated.requestedModel, includeUsage: translated.includeUsage });
  gateway.written = [];
  for (const chunk of answer) {
    gateway.written.push(translator.push(chunk));
    if (translator.closed) break;
  }
  gateway.written.push(translator.end());

  const bytes = Buffer.from(gateway.written.join(''), 'utf8');
  const step = gateway.splitEvery ?? 0;
  if (step > 0) {
    for (let at = 0; at < bytes.length; at += step) {
      res.write(bytes.subarray(at, at + step));
      await tick();
    }
  } else {
    for (const frame of gateway.written) {
      if (frame) res.write(frame);
      await tick();
    }
  }
  res.end();
}

async function route(gateway: Gateway, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (req.method === 'GET' && req.url === '/v1/models') {
      sendJson(res, 200, toModelList({ models: [{ name: 'qwen3:8b', modified_at: '2026-02-14T08:30:00Z' }, { name: 'alice/coder:7b' }] }));
    } else if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      await chat(gateway, await readJson(req), res);
    } else if (req.method === 'POST' && req.url === '/v1/embeddings') {
      const translated = translateEmbeddingsRequest(await readJson(req), { model: 'nomic-embed-text' });
      const texts = Array.isArray(translated.request.input) ? translated.request.input : [translated.request.input];
      // Float32-exact values, so the base64 round trip compares equal.
      const embeddings = texts.map((text, i) => [text.length, -0.5, i + 0.25]);
      sendJson(res, 200, toEmbeddingsResponse({ embeddings, prompt_eval_count: 3 * texts.length }, translated.requestedModel, translated.encodingFormat));
    } else {
      sendJson(res, 404, errorBody('openai', 404, 'not found'));
    }
  } catch (error) {
    if (!(error instanceof DialectError)) throw error;
    sendJson(res, error.status, errorBody('openai', error.status, error.message, { param: error.param }));
  }
}

let server: Server;
let gateway: Gateway;

beforeAll(async () => {
  server = createServer((req, res) => {
    route(gateway, req, res).catch((error: unknown) => {
      res.destroy(error as Error);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

beforeEach(() => {
  const { port } = server.address() as AddressInfo;
  gateway = {
    client: new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'x' }),
    seen: [],
    answers: [],
    written: [],
  };
});

const ask = [{ role: 'user' as const, content: 'Say hello' }];
const weatherTools = [
  {
    type: 'function' as const,
    function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
  {
    type: 'function' as const,
    function: { name: 'get_time', parameters: { type: 'object', properties: { city: { type: 'string' }, format: { type: 'string' } } } },
  },
];

describe('the openai SDK against the translators', () => {
  it('reads a non-streaming completion', async () => {
    gateway.answers.push(textStream);
    const completion = await gateway.client.chat.completions.create({ model: 'gpt-4o', messages: ask, max_completion_tokens: 64, temperature: 0.3 });
    expect(completion.choices[0]!.message.content).toBe('Hello there!');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.model).toBe('gpt-4o');
    expect(completion.usage).toEqual({ prompt_tokens: 26, completion_tokens: 4, total_tokens: 30 });
    expect(gateway.seen[0]).toEqual({
      model: 'qwen3:8b',
      messages: [{ role: 'user', content: 'Say hello' }],
      options: { temperature: 0.3, num_predict: 64 },
      stream: false,
    });
  });

  it('streams text with create({stream: true}) and include_usage', async () => {
    gateway.answers.push(textStream);
    const stream = await gateway.client.chat.completions.create({
      model: 'gpt-4o',
      messages: ask,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const finishReasons: Array<string | null> = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        finishReasons.push(choice.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Hello there!');
    expect(finishReasons.at(-1)).toBe('stop');
    expect(finishReasons.slice(0, -1).every((reason) => reason === null)).toBe(true);
    expect(usage).toEqual({ prompt_tokens: 26, completion_tokens: 4, total_tokens: 30 });
  });

  it('assembles a streamed tool call with .stream() and finalChatCompletion()', async () => {
    gateway.answers.push(toolCallStream);
    const runner = gateway.client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Weather in Tokyo?' }],
      tools: weatherTools,
      stream_options: { include_usage: true },
    });
    const done: Array<{ name: string; arguments: string }> = [];
    runner.on('tool_calls.function.arguments.done', (event) => done.push({ name: event.name, arguments: event.arguments }));
    const completion = await runner.finalChatCompletion();
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.tool_calls).toEqual([
      { id: 'call_k3x9a0qz', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
    ]);
    const call = choice.message.tool_calls![0]!;
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Tokyo' });
    expect(done).toEqual([{ name: 'get_weather', arguments: '{"city":"Tokyo"}' }]);
    expect(completion.usage).toEqual({ prompt_tokens: 152, completion_tokens: 21, total_tokens: 173 });
    expect(gateway.seen[0]!.tools).toHaveLength(2);
  });

  it('assembles two parallel tool calls and the text before them', async () => {
    gateway.answers.push(parallelToolCallStream);
    const completion = await gateway.client.chat.completions
      .stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Tokyo weather, Paris time' }], tools: weatherTools })
      .finalChatCompletion();
    const message = completion.choices[0]!.message;
    expect(message.content).toBe('Checking both.');
    expect(message.tool_calls?.map((call) => call.type === 'function' && [call.id, call.function.name, JSON.parse(call.function.arguments)])).toEqual([
      ['call_a1b2c3d4', 'get_weather', { city: 'Tokyo' }],
      ['call_e5f6g7h8', 'get_time', { city: 'Paris', format: '24h' }],
    ]);
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('completes a tool round trip: call, result, answer', async () => {
    gateway.answers.push([nonStreamedToolAnswer], textStream);
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Tokyo?' }];
    const first = await gateway.client.chat.completions.create({ model: 'gpt-4o', messages, tools: weatherTools, reasoning_effort: 'low' });
    const message = first.choices[0]!.message;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(message.content).toBeNull();
    expect((message as unknown as { reasoning: string }).reasoning).toBe('I should look up the weather.');

    messages.push(message);
    for (const call of message.tool_calls ?? []) messages.push({ role: 'tool', tool_call_id: call.id, content: '11 degrees' });
    const second = await gateway.client.chat.completions.create({ model: 'gpt-4o', messages, tools: weatherTools });
    expect(second.choices[0]!.message.content).toBe('Hello there!');

    expect(gateway.seen[0]!.think).toBe('low');
    expect(gateway.seen[1]!.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: '',
        thinking: 'I should look up the weather.',
        tool_calls: [{ id: 'call_k3x9a0qz', function: { name: 'get_weather', arguments: { city: 'Tokyo' } } }],
      },
      { role: 'tool', content: '11 degrees', tool_name: 'get_weather', tool_call_id: 'call_k3x9a0qz' },
    ]);
  });

  it('streams thinking as reasoning deltas the SDK passes through', async () => {
    gateway.answers.push(thinkingStream);
    const stream = await gateway.client.chat.completions.create({ model: 'gpt-4o', messages: ask, stream: true });
    let reasoning = '';
    let content = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string; reasoning?: string } | undefined;
      reasoning += delta?.reasoning ?? '';
      content += delta?.content ?? '';
    }
    expect(reasoning).toBe('The user greets me.');
    expect(content).toBe('Hi!');
  });

  it("reports finish_reason 'length'", async () => {
    gateway.answers.push(lengthStream);
    const completion = await gateway.client.chat.completions.stream({ model: 'gpt-4o', messages: ask, max_tokens: 3 }).finalChatCompletion();
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.choices[0]!.message.content).toBe('Once upon a time');
  });

  it('raises a mid-stream error as an APIError after the text before it', async () => {
    gateway.answers.push(errorStream);
    const stream = await gateway.client.chat.completions.create({ model: 'gpt-4o', messages: ask, stream: true });
    let text = '';
    const failure = (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })();
    await expect(failure).rejects.toBeInstanceOf(OpenAI.APIError);
    await expect(failure).rejects.toThrow('model runner has unexpectedly stopped');
    expect(text).toBe('Partial');
    expect(gateway.written.join('')).not.toContain('[DONE]');
  });

  it('reassembles multibyte text when the SSE bytes are cut inside characters', async () => {
    gateway.answers.push(multibyteStream);
    gateway.splitEvery = 7;
    const completion = await gateway.client.chat.completions.stream({ model: 'gpt-4o', messages: ask }).finalChatCompletion();
    expect(completion.choices[0]!.message.content).toBe('Grüß 日本語 🦙✓');
  });

  it('surfaces a translation error as BadRequestError with the param', async () => {
    const request = gateway.client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
    });
    await expect(request).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(request).rejects.toMatchObject({
      status: 400,
      param: 'messages[0].content[0].image_url.url',
      type: 'invalid_request_error',
    });
  });

  it('decodes embeddings in the base64 the SDK asks for by default, and as floats', async () => {
    const decoded = await gateway.client.embeddings.create({ model: 'text-embedding-3-small', input: ['hi', 'there'] });
    expect(decoded.data.map((item) => item.embedding)).toEqual([
      [2, -0.5, 0.25],
      [5, -0.5, 1.25],
    ]);
    expect(decoded.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
    expect(decoded.model).toBe('text-embedding-3-small');
    const floats = await gateway.client.embeddings.create({ model: 'e', input: 'hey', encoding_format: 'float' });
    expect(floats.data[0]!.embedding).toEqual([3, -0.5, 0.25]);
  });

  it('lists models', async () => {
    const models = [];
    for await (const model of gateway.client.models.list()) models.push(model);
    expect(models).toEqual([
      { id: 'qwen3:8b', object: 'model', created: 1_771_057_800, owned_by: 'library' },
      { id: 'alice/coder:7b', object: 'model', created: 0, owned_by: 'alice' },
    ]);
  });
});
