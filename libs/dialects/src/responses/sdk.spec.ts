import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OllamaChatRequest, OllamaChunk } from '@llmproxy/ollama';
import OpenAI from 'openai';
import { DialectError } from '../dialect-error.js';
import { errorBody } from '../errors.js';
import { OllamaAggregator } from '../openai/ollama-aggregator.js';
import { errorStream, lengthStream, multibyteStream, textStream, thinkingStream, toolCallStream } from '../openai/testing/ollama-recordings.js';
import { translateResponsesRequest } from './request.js';
import { toResponse } from './response.js';
import { ResponsesStreamTranslator } from './stream.js';

/**
 * Proves the official openai client (pinned in package.json) accepts what the translators produce: a
 * tiny HTTP server plays a recorded Ollama answer through them (no Nest, no Ollama) and the SDK's
 * `responses.create` and `responses.stream` parse it.
 */

interface Player {
  seen: OllamaChatRequest[];
  answers: OllamaChunk[][];
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return JSON.parse(Buffer.concat(parts).toString('utf8'));
}

async function responses(player: Player, body: unknown, res: ServerResponse): Promise<void> {
  const translated = translateResponsesRequest(body, { model: 'qwen3:8b', thinkingCapable: true });
  player.seen.push(translated.request);
  const answer = player.answers.shift() ?? textStream;
  const meta = { id: `resp_${player.seen.length}`, createdAt: 1_772_359_200, model: translated.requestedModel, echo: translated.echo, namespaced: translated.namespaced };
  const aggregator = new OllamaAggregator();
  for (const chunk of answer) aggregator.push(chunk);
  const result = aggregator.result();
  const usage = { inputTokens: result.promptEvalCount ?? 0, outputTokens: result.evalCount ?? 0, reasoningTokens: result.thinking === '' ? 0 : 3 };
  if (!translated.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(toResponse(result, meta, usage)));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const translator = new ResponsesStreamTranslator(meta);
  res.write(translator.start());
  for (const chunk of answer) {
    const frames = translator.push(chunk);
    if (frames) res.write(frames);
    await tick();
  }
  res.end(translator.end(usage));
}

let server: Server;
let player: Player;
let client: OpenAI;

beforeAll(async () => {
  server = createServer((req, res) => {
    readJson(req)
      .then((body) => responses(player, body, res))
      .catch((error: unknown) => {
        if (!(error instanceof DialectError)) return res.destroy(error as Error);
        res.writeHead(error.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(errorBody('openai', error.status, error.message, { param: error.param })));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, apiKey: 'x' });
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

beforeEach(() => {
  player = { seen: [], answers: [] };
});

describe('the openai SDK reads the Responses translators', () => {
  it('responses.create: text, output_text and usage', async () => {
    const response = await client.responses.create({ model: 'qwen3', input: 'Say hello', instructions: 'Be brief.' });
    expect(response.output_text).toBe('Hello there!');
    expect(response.status).toBe('completed');
    expect(response.usage).toMatchObject({ input_tokens: 26, output_tokens: 4, total_tokens: 30 });
    expect(player.seen[0].messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Say hello' },
    ]);
  });

  it('responses.stream: text deltas and the final response', async () => {
    player.answers.push(multibyteStream);
    const stream = client.responses.stream({ model: 'qwen3', input: 'hi' });
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(deltas.join('')).toBe('Grüß 日本語 🦙✓');
    expect(final.output_text).toBe('Grüß 日本語 🦙✓');
    expect(final.usage?.output_tokens).toBe(6);
  });

  it("responses.stream: a thinking model's reasoning summary (the SDK needs the summary part before the deltas)", async () => {
    player.answers.push(thinkingStream);
    const stream = client.responses.stream({ model: 'qwen3', input: 'hi', reasoning: { effort: 'low', summary: 'auto' } });
    const summary: string[] = [];
    stream.on('response.reasoning_summary_text.delta', (event) => summary.push(event.delta));
    const final = await stream.finalResponse();
    expect(summary.join('')).toBe('The user greets me.');
    expect(final.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user greets me.' }] });
    expect(final.output_text).toBe('Hi!');
    expect(final.usage?.output_tokens_details.reasoning_tokens).toBe(3);
    expect(player.seen[0].think).toBe('low');
  });

  it('a function tool round trip: the call, then its output sent back as input', async () => {
    player.answers.push(toolCallStream, textStream);
    const tools: OpenAI.Responses.Tool[] = [
      { type: 'function', name: 'get_weather', strict: false, parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    ];
    const first = await client.responses.stream({ model: 'qwen3', input: 'Weather in Tokyo?', tools }).finalResponse();
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', call_id: 'call_k3x9a0qz', name: 'get_weather', arguments: '{"city":"Tokyo"}' });

    const second = await client.responses.create({
      model: 'qwen3',
      tools,
      input: [
        { role: 'user', content: 'Weather in Tokyo?' },
        ...first.output.map((item) => item as OpenAI.Responses.ResponseInputItem),
        { type: 'function_call_output', call_id: 'call_k3x9a0qz', output: '{"temp_c":21}' },
      ],
    });
    expect(second.output_text).toBe('Hello there!');
    expect(player.seen[1].messages.slice(1)).toEqual([
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_k3x9a0qz', function: { name: 'get_weather', arguments: { city: 'Tokyo' } } }] },
      { role: 'tool', content: '{"temp_c":21}', tool_call_id: 'call_k3x9a0qz', tool_name: 'get_weather' },
    ]);
  });

  it('the completion limit reached: status incomplete, reason max_output_tokens, streamed and not', async () => {
    player.answers.push(lengthStream, lengthStream);
    const streamed = await client.responses.stream({ model: 'qwen3', input: 'story', max_output_tokens: 3 }).finalResponse();
    expect(streamed).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(streamed.output_text).toBe('Once upon a time');
    const created = await client.responses.create({ model: 'qwen3', input: 'story', max_output_tokens: 3 });
    expect(created).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(player.seen[0].options?.num_predict).toBe(3);
  });

  it('a mid-stream failure raises an APIError with the message', async () => {
    player.answers.push(errorStream);
    const stream = client.responses.stream({ model: 'qwen3', input: 'hi' });
    await expect(stream.finalResponse()).rejects.toMatchObject({ message: expect.stringContaining('model runner has unexpectedly stopped') });
  });

  it('a stateful request is an OpenAI-shaped 400 the SDK raises', async () => {
    await expect(client.responses.create({ model: 'qwen3', input: 'hi', previous_response_id: 'resp_0' })).rejects.toMatchObject({
      status: 400,
      error: { type: 'invalid_request_error', param: 'previous_response_id' },
    });
  });
});
