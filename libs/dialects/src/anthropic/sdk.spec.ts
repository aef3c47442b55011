/**
 * The translator's output as the official @anthropic-ai/sdk reads it: a tiny HTTP server translates
 * each request and answers with a recorded Ollama stream run through the translators, and the SDK
 * client reconstructs the message. This is the contract Claude Code (built on the same SDK) relies on.
 */
import Anthropic from '@anthropic-ai/sdk';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OllamaChunk } from '@llmproxy/ollama';
import { claudeCodeRequest } from './fixtures/claude-code-request.js';
import {
  emptyStream,
  lengthCappedStream,
  midStreamErrorStream,
  multibyteStream,
  nonStreamedToolAnswer,
  textStream,
  textThenToolCallStream,
  thinkingThenTextStream,
  thinkingThenTwoToolCallsStream,
} from './fixtures/ollama-streams.js';
import { translateMessagesRequest, type TranslatedMessagesRequest } from './request.js';
import { OllamaAggregator, toMessage } from './response.js';
import { AnthropicStreamTranslator } from './stream.js';

interface Scripted {
  chunks: OllamaChunk[];
  /** Write the SSE in pieces of this many bytes (splitting multibyte characters), else one write per chunk. */
  byteSlices?: number;
  pings?: boolean;
}

let server: Server;
let baseURL: string;
let script: Scripted = { chunks: textStream };
let lastRequest: TranslatedMessagesRequest | undefined;

async function readBody(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return JSON.parse(Buffer.concat(parts).toString('utf8'));
}

async function write(res: ServerResponse, data: string | Buffer): Promise<void> {
  if (data.length === 0) return;
  res.write(data);
  await new Promise((resolve) => setImmediate(resolve));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const translated = translateMessagesRequest(await readBody(req), { model: 'qwen3:8b', numCtx: 65536, thinkingCapable: true });
  lastRequest = translated;
  const id = 'msg_01sdktest';

  if (!translated.stream) {
    const aggregate = new OllamaAggregator();
    for (const chunk of script.chunks) aggregate.push(chunk);
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_test' });
    res.end(JSON.stringify(toMessage(aggregate, { id, requestedModel: translated.requestedModel })));
    return;
  }

  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const translator = new AnthropicStreamTranslator({ id, requestedModel: translated.requestedModel, inputTokensEstimate: 20 });
  const pieces = [translator.start()];
  if (script.pings) pieces.push(translator.ping(), translator.ping());
  for (const chunk of script.chunks) pieces.push(translator.push(chunk));
  pieces.push(translator.end());

  if (script.byteSlices) {
    const bytes = Buffer.from(pieces.join(''), 'utf8');
    for (let at = 0; at < bytes.length; at += script.byteSlices) await write(res, bytes.subarray(at, at + script.byteSlices));
  } else {
    for (const piece of pieces) await write(res, piece);
  }
  res.end();
}

beforeAll(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const client = () => new Anthropic({ baseURL, apiKey: 'x' });

const params = {
  model: 'claude-sonnet-4-6',
  max_tokens: 1024,
  messages: [{ role: 'user' as const, content: 'Weather in Tokyo?' }],
  tools: [{ name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }],
};

describe('the official Anthropic SDK reading the translated answers', () => {
  it('messages.stream().finalMessage() rebuilds a text answer with usage', async () => {
    script = { chunks: textStream, pings: true };
    const stream = client().messages.stream(params);
    const texts: string[] = [];
    stream.on('text', (delta) => texts.push(delta));
    const message = await stream.finalMessage();

    expect(message).toMatchObject({
      id: 'msg_01sdktest',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text: 'The capital of France is Paris.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 26, output_tokens: 7 },
    });
    expect(texts).toEqual(['The', ' capital', ' of France is', ' Paris.']);
    expect(lastRequest?.request.model).toBe('qwen3:8b');
  });

  it('messages.stream() rebuilds thinking then text', async () => {
    script = { chunks: thinkingThenTextStream };
    const message = await client()
      .messages.stream({ ...params, thinking: { type: 'enabled', budget_tokens: 1024 } })
      .finalMessage();
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'The user asks for 2+2.', signature: '' },
      { type: 'text', text: '2 + 2 = 4' },
    ]);
    expect(lastRequest?.request.think).toBe(true);
  });

  it('messages.stream() rebuilds text then a tool call, with its input object', async () => {
    script = { chunks: textThenToolCallStream };
    const stream = client().messages.stream(params);
    const blocks: string[] = [];
    stream.on('contentBlock', (block) => blocks.push(block.type));
    const message = await stream.finalMessage();

    expect(message.content).toEqual([
      { type: 'text', text: 'Let me check the weather.' },
      { type: 'tool_use', id: 'call_k3x9a0qz', name: 'get_weather', input: { city: 'Tokyo' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({ input_tokens: 112, output_tokens: 24 });
    expect(blocks).toEqual(['text', 'tool_use']);
  });

  it('messages.stream() rebuilds thinking and two tool calls', async () => {
    script = { chunks: thinkingThenTwoToolCallsStream };
    const message = await client().messages.stream(params).finalMessage();
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'I need both cities.', signature: '' },
      { type: 'tool_use', id: 'call_k3x9a0qz', name: 'get_weather', input: { city: 'Tokyo' } },
      { type: 'tool_use', id: 'call_p0q1r2s3', name: 'get_weather', input: { city: 'Osaka', unit: 'c' } },
    ]);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({ input_tokens: 20, output_tokens: 40 });
  });

  it('messages.stream() reports max_tokens for a capped answer', async () => {
    script = { chunks: lengthCappedStream };
    const message = await client().messages.stream(params).finalMessage();
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.content).toEqual([{ type: 'text', text: 'Once upon a time there' }]);
  });

  it('messages.stream() gets one empty text block for an empty answer', async () => {
    script = { chunks: emptyStream };
    const stream = client().messages.stream(params);
    const message = await stream.finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: '' }]);
    expect(message.stop_reason).toBe('end_turn');
  });

  it('messages.stream() reassembles multibyte characters split across network writes', async () => {
    script = { chunks: multibyteStream, byteSlices: 7 };
    const text = await client().messages.stream(params).finalText();
    expect(text).toBe('Café 日本語 🙂 done');
  });

  it('messages.create({ stream: true }) yields the events in order', async () => {
    script = { chunks: textThenToolCallStream, pings: true };
    const events = await client().messages.create({ ...params, stream: true });
    const seen: string[] = [];
    let input = '';
    let stopReason: string | null = null;
    let outputTokens = -1;
    for await (const event of events) {
      seen.push(event.type === 'content_block_delta' ? `${event.type}:${event.delta.type}` : event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'input_json_delta') input += event.delta.partial_json;
      if (event.type === 'message_delta') {
        stopReason = event.delta.stop_reason;
        outputTokens = event.usage.output_tokens;
      }
    }
    expect(seen).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta:text_delta',
      'content_block_delta:text_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta:input_json_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(JSON.parse(input)).toEqual({ city: 'Tokyo' });
    expect(stopReason).toBe('tool_use');
    expect(outputTokens).toBe(24);
  });

  it('throws an APIError for a mid-stream error event', async () => {
    script = { chunks: midStreamErrorStream };
    const stream = client().messages.stream(params);
    const error = await stream.finalMessage().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).message).toMatch(/model runner has unexpectedly stopped/);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'model runner has unexpectedly stopped' },
    });
    expect(stream.errored).toBe(true);
  });

  it('messages.create() without stream reads the non-streaming message', async () => {
    script = { chunks: [nonStreamedToolAnswer] };
    const message = await client().messages.create(params);
    expect(message).toMatchObject({
      id: 'msg_01sdktest',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [
        { type: 'thinking', thinking: 'Weather needs a tool.', signature: '' },
        { type: 'tool_use', id: 'call_k3x9a0qz', name: 'get_weather', input: { city: 'Tokyo' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 140, output_tokens: 33 },
    });
    expect(lastRequest?.stream).toBe(false);
  });

  it('accepts a request shaped like Claude Code\'s, sent by the SDK as is', async () => {
    script = { chunks: textStream };
    const body = { ...claudeCodeRequest, stream: undefined } as unknown as Parameters<Anthropic['messages']['stream']>[0];
    const message = await client().messages.stream(body, { query: { beta: 'true' } }).finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: 'The capital of France is Paris.' }]);
    expect(lastRequest?.request.tools).toHaveLength(12);
    expect(lastRequest?.request.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
  });
});
