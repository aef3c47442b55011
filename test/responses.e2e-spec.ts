/**
 * OpenAI's Responses API (POST /v1/responses) through the real gateway with the official openai SDK
 * at its default settings, against the scripted Ollama, on every test database: text, a function tool
 * round trip, reasoning from a thinking model, the completion cap, and the guarantees every dialect
 * shares (key check, quotas, allow-list, usage log, rate-limit headers, errors in OpenAI's shape).
 */
import OpenAI from 'openai';
import { estimatePromptTokens } from '@llmproxy/metering';
import { startFakeOllama, type FakeOllama, type RecordedRequest } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const databases = await testDatabases();

interface OllamaChatBody {
  model: string;
  stream: boolean;
  messages: { role: string; content: string; thinking?: string; tool_calls?: { id?: string; function: { name: string; arguments: unknown } }[]; tool_name?: string; tool_call_id?: string }[];
  tools?: { function: { name: string } }[];
  options?: Record<string, unknown>;
  think?: unknown;
}

const SHELL_TOOL: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'exec_command',
  description: 'Runs a shell command',
  strict: false,
  parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] },
};

describe.each(databases)('Responses API through the gateway on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;
  let client: OpenAI;

  const openaiFor = (apiKey: string) => new OpenAI({ baseURL: `${gateway.proxyUrl}/v1`, apiKey });
  const chatRequest = () => upstream.waitForRequest((r) => r.path === '/api/chat');
  const sentBody = (request: RecordedRequest) => request.body as OllamaChatBody;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database.create(), upstream.url);
    key = (await gateway.createKey({ name: 'responses-user' })).key;
    client = openaiFor(key);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await database.dropAll();
  });

  beforeEach(() => upstream.reset());

  it('responses.create: text with usage, translated to /api/chat with the instructions as the system message', async () => {
    const response = await client.responses.create({ model: 'llama3.2', instructions: 'Be terse.', input: 'Say hello' });
    expect(response.output_text).toBe('Hello there! How can I help you?');
    expect(response).toMatchObject({ object: 'response', status: 'completed', model: 'llama3.2', store: false });
    expect(response.id).toMatch(/^resp_/);
    expect(response.usage).toMatchObject({ output_tokens: 8, total_tokens: response.usage!.input_tokens + 8 });
    const sent = sentBody(await chatRequest());
    expect(sent).toMatchObject({ model: 'llama3.2:latest', stream: true });
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'Say hello' },
    ]);
  });

  it('responses.stream: text deltas, then the final response with usage', async () => {
    upstream.enqueue({ text: 'one two three' });
    const stream = client.responses.stream({ model: 'llama3.2', input: 'count' });
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(deltas).toEqual(['one', ' two', ' three']);
    expect(final.output_text).toBe('one two three');
    expect(final.usage?.output_tokens).toBe(3);
  });

  it('a function tool round trip: the model calls exec_command, the output goes back, the model answers', async () => {
    upstream.enqueue({ toolCalls: [{ name: 'exec_command', arguments: { cmd: 'echo hi' } }] }, { text: 'It printed hi.' });
    const first = await client.responses.stream({ model: 'llama3.2', input: 'Run echo hi', tools: [SHELL_TOOL, { type: 'web_search' }] }).finalResponse();
    const call = first.output.find((item) => item.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall | undefined;
    expect(call).toMatchObject({ name: 'exec_command', arguments: '{"cmd":"echo hi"}', status: 'completed' });
    const firstSent = sentBody(await chatRequest());
    // The hosted web_search tool is never shown to the model.
    expect(firstSent.tools?.map((t) => t.function.name)).toEqual(['exec_command']);

    const second = await client.responses.create({
      model: 'llama3.2',
      tools: [SHELL_TOOL],
      input: [
        { role: 'user', content: 'Run echo hi' },
        { type: 'function_call', call_id: call!.call_id, name: call!.name, arguments: call!.arguments },
        { type: 'function_call_output', call_id: call!.call_id, output: 'hi\n' },
      ],
    });
    expect(second.output_text).toBe('It printed hi.');
    expect(sentBody(await chatRequest()).messages.slice(1)).toEqual([
      { role: 'assistant', content: '', tool_calls: [{ id: call!.call_id, function: { name: 'exec_command', arguments: { cmd: 'echo hi' } } }] },
      { role: 'tool', content: 'hi\n', tool_call_id: call!.call_id, tool_name: 'exec_command' },
    ]);
  });

  it("a thinking model's reasoning streams as a summary, reasoning.effort becomes think, reasoning tokens are reported", async () => {
    upstream.enqueue({ thinking: ['The', ' user', ' says', ' hi.'], text: 'Hi!' });
    const stream = client.responses.stream({ model: 'qwen3:4b', input: 'hi', reasoning: { effort: 'low', summary: 'auto' } });
    const summary: string[] = [];
    stream.on('response.reasoning_summary_text.delta', (event) => summary.push(event.delta));
    const final = await stream.finalResponse();
    expect(summary.join('')).toBe('The user says hi.');
    expect(final.output.map((item) => item.type)).toEqual(['reasoning', 'message']);
    expect(final.output_text).toBe('Hi!');
    expect(final.usage!.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(final.usage!.output_tokens_details.reasoning_tokens).toBeLessThanOrEqual(final.usage!.output_tokens);
    expect(sentBody(await chatRequest()).think).toBe('low');

    // The reasoning item sent back comes to Ollama as the assistant turn's thinking.
    await client.responses.create({ model: 'qwen3:4b', input: [{ role: 'user', content: 'hi' }, ...(final.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: 'again' }] });
    expect(sentBody(await chatRequest()).messages[1]).toEqual({ role: 'assistant', content: 'Hi!', thinking: 'The user says hi.' });
  });

  it("the key's token cap reached: status incomplete (max_output_tokens), streamed and not; then a 429", async () => {
    const own = await gateway.createKey({ name: 'capped', daily_token_limit: 60 });
    const capped = openaiFor(own.key);
    upstream.enqueue({ tokens: Array.from({ length: 100 }, (_, i) => ` w${i}`) });
    const body = { model: 'llama3.2', input: 'count to a hundred' };
    const answer = await capped.responses.create(body);
    expect(answer).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    const cap = sentBody(await chatRequest()).options?.num_predict as number;
    expect(cap).toBe(60 - estimatePromptTokens(body));
    expect(answer.usage!.output_tokens).toBe(cap);

    const error = await capped.responses.create(body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as Error).message).toContain('daily token quota of 60 exhausted');
  });

  it('the client max_output_tokens cuts a streamed answer: response.incomplete', async () => {
    upstream.enqueue({ tokens: Array.from({ length: 30 }, (_, i) => ` w${i}`) });
    const final = await client.responses.stream({ model: 'llama3.2', input: 'long', max_output_tokens: 5 }).finalResponse();
    expect(final).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(final.usage!.output_tokens).toBe(5);
  });

  it('sets the rate-limit headers, writes a usage line, names the dropped hosted tools', async () => {
    const own = await gateway.createKey({ name: 'metered', daily_request_limit: 10, daily_token_limit: 5000 });
    const { data, response } = await openaiFor(own.key)
      .responses.create({ model: 'llama3.2', input: 'hi', tools: [{ type: 'web_search' }] })
      .withResponse();
    expect(data.status).toBe('completed');
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(response.headers.get('x-llmproxy-dropped-tools')).toBe('web_search');
    const line = await eventually(() => {
      const found = gateway.usageLines().find((l) => l.key_name === 'metered');
      if (!found) throw new Error('no usage line yet');
      return found;
    });
    expect(line).toMatchObject({ dialect: 'openai', outcome: 'ok', stream: false, prompt_tokens: data.usage!.input_tokens, completion_tokens: data.usage!.output_tokens });
  });

  it('holds a key to its allow-list and refuses a wrong key, in OpenAI error classes', async () => {
    const own = await gateway.createKey({ name: 'restricted', allowed_models: ['llama3.2'] });
    await expect(openaiFor(own.key).responses.create({ model: 'qwen3:4b', input: 'hi' })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    await expect(openaiFor('sk-wrong').responses.create({ model: 'llama3.2', input: 'hi' })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.responses.create({ model: 'no-such-model', input: 'hi' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
  });

  it('refuses previous_response_id, conversation and store: true with a 400 that says the gateway keeps no state', async () => {
    for (const extra of [{ previous_response_id: 'resp_123' }, { conversation: 'conv_1' }, { store: true }]) {
      const error = await client.responses.create({ model: 'llama3.2', input: 'hi', ...extra }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      const bad = error as InstanceType<typeof OpenAI.BadRequestError>;
      expect(bad.message).toContain('keeps no state');
      expect(bad.param).toBe(Object.keys(extra)[0]);
    }
    expect(upstream.requests.filter((r) => r.path === '/api/chat')).toHaveLength(0);
  });

  it('ends the stream with response.failed and an error the SDK raises when Ollama fails mid-stream', async () => {
    upstream.enqueue({ text: 'partial answer here', midStreamError: { afterChunks: 2, error: 'model runner has unexpectedly stopped' } });
    const error = await client.responses.stream({ model: 'llama3.2', input: 'hi' }).finalResponse().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('model runner has unexpectedly stopped');
  });
});
