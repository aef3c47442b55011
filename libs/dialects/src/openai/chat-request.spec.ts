import { DialectError } from '../dialect-error.js';
import { translateChatRequest, type ChatRequestContext } from './chat-request.js';

const ctx: ChatRequestContext = { model: 'qwen3:8b', thinkingCapable: false };
const user = { role: 'user', content: 'Hi' };

function translate(extra: Record<string, unknown>, context: Partial<ChatRequestContext> = {}) {
  return translateChatRequest({ model: 'gpt-4o', messages: [user], ...extra }, { ...ctx, ...context });
}

/** Runs `fn` and returns the DialectError it threw. */
function dialectError(fn: () => unknown): DialectError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DialectError);
    return error as DialectError;
  }
  throw new Error('expected a DialectError');
}

function rejects(body: unknown, param: string | undefined, message?: RegExp) {
  const error = dialectError(() => translateChatRequest(body, ctx));
  expect(error.status).toBe(400);
  expect(error.param).toBe(param);
  if (message) expect(error.message).toMatch(message);
}

describe('translateChatRequest', () => {
  it('translates a minimal request, resolving the model and echoing the requested one', () => {
    expect(translateChatRequest({ model: 'gpt-4o', messages: [user] }, ctx)).toEqual({
      request: { model: 'qwen3:8b', messages: [{ role: 'user', content: 'Hi' }], stream: false },
      stream: false,
      includeUsage: false,
      requestedModel: 'gpt-4o',
    });
  });

  describe('body, model and messages', () => {
    it('refuses a body that is not an object', () => {
      rejects(null, undefined, /JSON object/);
      rejects([user], undefined);
      rejects('hello', undefined);
    });

    it('requires model as a string', () => {
      rejects({ messages: [user] }, 'model', /model/);
      rejects({ model: '', messages: [user] }, 'model');
      rejects({ model: 42, messages: [user] }, 'model', /string/);
    });

    it('requires messages as a non-empty array of objects with a known role', () => {
      rejects({ model: 'm' }, 'messages', /Missing/);
      rejects({ model: 'm', messages: 'Hi' }, 'messages', /array/);
      rejects({ model: 'm', messages: [] }, 'messages', /empty/);
      rejects({ model: 'm', messages: [user, 'Hi'] }, 'messages[1]');
      rejects({ model: 'm', messages: [{ content: 'Hi' }] }, 'messages[0].role');
      rejects({ model: 'm', messages: [{ role: 'function', content: 'x', name: 'f' }] }, 'messages[0].role');
      rejects({ model: 'm', messages: [{ role: 7, content: 'x' }] }, 'messages[0].role');
      rejects({ model: 'm', messages: [{ role: 'constructor', content: 'x' }] }, 'messages[0].role');
    });

    it('maps system and developer to system, keeps user, assistant and tool', () => {
      const { request } = translate({
        messages: [
          { role: 'developer', content: 'Be brief.' },
          { role: 'system', content: 'Answer in French.' },
          { role: 'user', content: 'Hi', name: 'alice' },
          { role: 'assistant', content: 'Salut' },
        ],
      });
      expect(request.messages).toEqual([
        { role: 'system', content: 'Be brief.' },
        { role: 'system', content: 'Answer in French.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Salut' },
      ]);
    });

    it('reads null or missing content as empty text', () => {
      const { request } = translate({ messages: [{ role: 'assistant', content: null }, { role: 'user' }] });
      expect(request.messages).toEqual([
        { role: 'assistant', content: '' },
        { role: 'user', content: '' },
      ]);
    });

    it('refuses content that is neither string, null nor array', () => {
      rejects({ model: 'm', messages: [{ role: 'user', content: 42 }] }, 'messages[0].content');
      rejects({ model: 'm', messages: [{ role: 'user', content: { text: 'x' } }] }, 'messages[0].content');
    });
  });

  describe('content parts', () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

    it('joins text parts and passes data-URL images as raw base64', () => {
      const { request } = translate({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'low' } },
              { type: 'text', text: 'this picture?' },
              { type: 'image_url', image_url: `data:;base64,${png}` },
            ],
          },
        ],
      });
      expect(request.messages).toEqual([{ role: 'user', content: 'What is in\nthis picture?', images: [png, png] }]);
    });

    it('ignores part types Ollama cannot take', () => {
      const { request } = translate({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
              { type: 'file', file: { file_id: 'file-1' } },
              { type: 'text', text: 'Hello' },
            ],
          },
        ],
      });
      expect(request.messages).toEqual([{ role: 'user', content: 'Hello' }]);
    });

    it('refuses a remote image URL with a clear message', () => {
      const body = {
        model: 'm',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
      };
      rejects(body, 'messages[0].content[0].image_url.url', /Remote image URLs are not supported.*data URL/);
    });

    it('refuses malformed parts and image URLs', () => {
      const withParts = (...parts: unknown[]) => ({ model: 'm', messages: [user, { role: 'user', content: parts }] });
      rejects(withParts('text'), 'messages[1].content[0]');
      rejects(withParts({ type: 'text', text: 5 }), 'messages[1].content[0].text');
      rejects(withParts({ type: 'image_url', image_url: {} }), 'messages[1].content[0].image_url.url');
      rejects(withParts({ type: 'image_url', image_url: 'ftp://x/y.png' }), 'messages[1].content[0].image_url', /base64 data URL/);
      rejects(withParts({ type: 'image_url', image_url: { url: 'data:image/png,rawbytes' } }), 'messages[1].content[0].image_url.url');
      rejects(withParts({ type: 'image_url', image_url: { url: 'data:image/png;base64,not base64!' } }), 'messages[1].content[0].image_url.url');
    });
  });

  describe('tool calls and tool results', () => {
    const conversation = [
      { role: 'user', content: 'Weather in Tokyo and Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_k3x9a0qz', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } },
          { id: 'call_p2r7b1mw', type: 'function', function: { name: 'get_time', arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_k3x9a0qz', content: '11 degrees' },
      { role: 'tool', tool_call_id: 'call_p2r7b1mw', content: [{ type: 'text', text: '09:41' }] },
      { role: 'tool', tool_call_id: 'call_unknown', content: '?' },
    ];

    it('parses JSON-string arguments and resolves tool_name from the earlier call', () => {
      const { request } = translate({ messages: conversation });
      expect(request.messages.slice(1)).toEqual([
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            { id: 'call_k3x9a0qz', function: { name: 'get_weather', arguments: { city: 'Tokyo' } } },
            { id: 'call_p2r7b1mw', function: { name: 'get_time', arguments: { city: 'Paris' } } },
          ],
        },
        { role: 'tool', content: '11 degrees', tool_name: 'get_weather', tool_call_id: 'call_k3x9a0qz' },
        { role: 'tool', content: '09:41', tool_name: 'get_time', tool_call_id: 'call_p2r7b1mw' },
        { role: 'tool', content: '?', tool_call_id: 'call_unknown' },
      ]);
    });

    it('keeps the thinking of an earlier assistant turn (reasoning or reasoning_content)', () => {
      const { request } = translate({
        messages: [user, { role: 'assistant', content: 'A', reasoning: 'hmm' }, { role: 'assistant', content: 'B', reasoning_content: 'so' }],
      });
      expect(request.messages.slice(1)).toEqual([
        { role: 'assistant', content: 'A', thinking: 'hmm' },
        { role: 'assistant', content: 'B', thinking: 'so' },
      ]);
    });

    it('accepts empty or object arguments and calls without id', () => {
      const { request } = translate({
        messages: [
          user,
          {
            role: 'assistant',
            tool_calls: [
              { type: 'function', function: { name: 'now', arguments: '' } },
              { id: 'call_1', type: 'function', function: { name: 'add', arguments: { a: 1 } } },
            ],
          },
        ],
      });
      expect(request.messages[1]!.tool_calls).toEqual([
        { function: { name: 'now', arguments: {} } },
        { id: 'call_1', function: { name: 'add', arguments: { a: 1 } } },
      ]);
    });

    it('refuses invalid tool calls with the param at fault', () => {
      const assistant = (toolCalls: unknown) => ({ model: 'm', messages: [user, { role: 'assistant', content: null, tool_calls: toolCalls }] });
      const call = (fn: unknown) => [{ id: 'call_1', type: 'function', function: fn }];
      rejects(assistant('x'), 'messages[1].tool_calls');
      rejects(assistant([null]), 'messages[1].tool_calls[0]');
      rejects(assistant(call(undefined)), 'messages[1].tool_calls[0].function');
      rejects(assistant(call({ arguments: '{}' })), 'messages[1].tool_calls[0].function.name');
      rejects(assistant(call({ name: 'f', arguments: '{"city":' })), 'messages[1].tool_calls[0].function.arguments', /not valid JSON/);
      rejects(assistant(call({ name: 'f', arguments: '[1,2]' })), 'messages[1].tool_calls[0].function.arguments', /JSON object/);
      rejects(assistant(call({ name: 'f', arguments: 12 })), 'messages[1].tool_calls[0].function.arguments');
    });

    it('uses the legacy name of a tool message and refuses a non-string tool_call_id', () => {
      const { request } = translate({ messages: [user, { role: 'tool', name: 'lookup', content: 'x' }] });
      expect(request.messages[1]).toEqual({ role: 'tool', content: 'x', tool_name: 'lookup' });
      rejects({ model: 'm', messages: [user, { role: 'tool', tool_call_id: 5, content: 'x' }] }, 'messages[1].tool_call_id');
    });
  });

  describe('tools and tool_choice', () => {
    const weather = {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
    };
    const clock = { type: 'function', function: { name: 'get_time' } };
    const ollamaWeather = {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    };
    const ollamaClock = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

    it('translates function tools; auto, required and no choice keep all of them', () => {
      for (const choice of [undefined, 'auto', 'required']) {
        expect(translate({ tools: [weather, clock], tool_choice: choice }).request.tools).toEqual([ollamaWeather, ollamaClock]);
      }
    });

    it("drops the tools for tool_choice 'none'", () => {
      expect(translate({ tools: [weather, clock], tool_choice: 'none' }).request).not.toHaveProperty('tools');
    });

    it('keeps only the named function (Ollama cannot force a call)', () => {
      const named = { type: 'function', function: { name: 'get_time' } };
      expect(translate({ tools: [weather, clock], tool_choice: named }).request.tools).toEqual([ollamaClock]);
      const allowed = { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'get_weather' } }] } };
      expect(translate({ tools: [weather, clock], tool_choice: allowed }).request.tools).toEqual([ollamaWeather]);
    });

    it('omits an empty tool list', () => {
      expect(translate({ tools: [] }).request).not.toHaveProperty('tools');
    });

    it('refuses malformed tools and choices', () => {
      const base = { model: 'm', messages: [user] };
      rejects({ ...base, tools: {} }, 'tools');
      rejects({ ...base, tools: ['x'] }, 'tools[0]');
      rejects({ ...base, tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools[0].type', /function/);
      rejects({ ...base, tools: [{ type: 'function' }] }, 'tools[0].function');
      rejects({ ...base, tools: [{ type: 'function', function: { description: 'x' } }] }, 'tools[0].function.name');
      rejects({ ...base, tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }, 'tools[0].function.parameters');
      rejects({ ...base, tools: [{ type: 'function', function: { name: 'f', description: 3 } }] }, 'tools[0].function.description');
      rejects({ ...base, tools: [weather], tool_choice: 'always' }, 'tool_choice');
      rejects({ ...base, tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice', /nope/);
      rejects({ ...base, tools: [weather], tool_choice: { type: 'allowed_tools', allowed_tools: { tools: [{}] } } }, 'tool_choice.allowed_tools.tools[0]');
    });
  });

  describe('options', () => {
    it('maps sampling options, penalties, seed and stop', () => {
      const { request } = translate({
        temperature: 0.2,
        top_p: 0.9,
        seed: 42,
        frequency_penalty: 0.5,
        presence_penalty: -0.5,
        stop: 'END',
      });
      expect(request.options).toEqual({
        temperature: 0.2,
        top_p: 0.9,
        seed: 42,
        frequency_penalty: 0.5,
        presence_penalty: -0.5,
        stop: ['END'],
      });
    });

    it('does not force OpenAI defaults for unset sampling options', () => {
      expect(translate({}).request).not.toHaveProperty('options');
      expect(translate({ temperature: null, top_p: null, stop: null, max_tokens: null }).request).not.toHaveProperty('options');
    });

    it('takes stop as an array, dropping empty strings', () => {
      expect(translate({ stop: ['\n\n', '', 'User:'] }).request.options).toEqual({ stop: ['\n\n', 'User:'] });
      expect(translate({ stop: [] }).request).not.toHaveProperty('options');
    });

    it('maps max_completion_tokens, preferred over max_tokens, to num_predict', () => {
      expect(translate({ max_tokens: 100 }).request.options).toEqual({ num_predict: 100 });
      expect(translate({ max_completion_tokens: 50, max_tokens: 100 }).request.options).toEqual({ num_predict: 50 });
    });

    it('sets num_ctx from the context', () => {
      expect(translate({ max_tokens: 10 }, { numCtx: 65536 }).request.options).toEqual({ num_predict: 10, num_ctx: 65536 });
    });

    it('refuses options of the wrong type', () => {
      const base = { model: 'm', messages: [user] };
      rejects({ ...base, temperature: 'hot' }, 'temperature', /number/);
      rejects({ ...base, top_p: '0.9' }, 'top_p');
      rejects({ ...base, seed: 1.5 }, 'seed');
      rejects({ ...base, frequency_penalty: true }, 'frequency_penalty');
      rejects({ ...base, presence_penalty: {} }, 'presence_penalty');
      rejects({ ...base, stop: 5 }, 'stop');
      rejects({ ...base, stop: ['a', 1] }, 'stop');
      rejects({ ...base, max_tokens: 0 }, 'max_tokens');
      rejects({ ...base, max_completion_tokens: 10.5 }, 'max_completion_tokens');
      rejects({ ...base, max_completion_tokens: '10' }, 'max_completion_tokens');
      rejects({ ...base, n: 2 }, 'n', /n=1/);
    });

    it('accepts n=1', () => {
      expect(translate({ n: 1 }).request).not.toHaveProperty('n');
    });
  });

  describe('response_format', () => {
    it('maps json_object to format json and json_schema to the schema; text to nothing', () => {
      const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
      expect(translate({ response_format: { type: 'json_object' } }).request.format).toBe('json');
      expect(translate({ response_format: { type: 'json_schema', json_schema: { name: 'a', schema, strict: true } } }).request.format).toEqual(schema);
      expect(translate({ response_format: { type: 'text' } }).request).not.toHaveProperty('format');
    });

    it('refuses unknown types and a json_schema without schema', () => {
      const base = { model: 'm', messages: [user] };
      rejects({ ...base, response_format: 'json' }, 'response_format');
      rejects({ ...base, response_format: { type: 'xml' } }, 'response_format.type');
      rejects({ ...base, response_format: { type: 'json_schema', json_schema: { name: 'a' } } }, 'response_format.json_schema.schema');
    });
  });

  describe('reasoning_effort', () => {
    it('maps effort to think on a thinking-capable model', () => {
      const think = (effort: string) => translate({ reasoning_effort: effort }, { thinkingCapable: true }).request.think;
      expect(think('low')).toBe('low');
      expect(think('medium')).toBe('medium');
      expect(think('high')).toBe('high');
      expect(think('xhigh')).toBe('high');
      expect(think('minimal')).toBe(false);
      expect(think('none')).toBe(false);
      expect(translate({ reasoning: { effort: 'low' } }, { thinkingCapable: true }).request.think).toBe('low');
    });

    it('leaves think unset without an effort, and never sends it to a model that cannot think', () => {
      expect(translate({}, { thinkingCapable: true }).request).not.toHaveProperty('think');
      expect(translate({ reasoning_effort: 'high' }).request).not.toHaveProperty('think');
      expect(translate({ reasoning_effort: 'none' }).request).not.toHaveProperty('think');
    });

    it('refuses an unknown effort', () => {
      rejects({ model: 'm', messages: [user], reasoning_effort: 'extreme' }, 'reasoning_effort', /low, medium, high/);
      rejects({ model: 'm', messages: [user], reasoning_effort: 3 }, 'reasoning_effort');
      rejects({ model: 'm', messages: [user], reasoning: { effort: 'toString' } }, 'reasoning.effort');
    });
  });

  describe('stream', () => {
    it('defaults to non-streaming and reads stream_options.include_usage', () => {
      expect(translate({}).stream).toBe(false);
      const streamed = translate({ stream: true, stream_options: { include_usage: true } });
      expect(streamed).toMatchObject({ stream: true, includeUsage: true, request: { stream: true } });
      expect(translate({ stream: true, stream_options: null }).includeUsage).toBe(false);
    });

    it('refuses wrong types', () => {
      rejects({ model: 'm', messages: [user], stream: 'yes' }, 'stream');
      rejects({ model: 'm', messages: [user], stream_options: true }, 'stream_options');
      rejects({ model: 'm', messages: [user], stream_options: { include_usage: 1 } }, 'stream_options.include_usage');
    });
  });

  it('ignores unknown fields', () => {
    const { request } = translate({ user: 'u1', metadata: { a: 1 }, store: true, logit_bias: { 1: 2 }, parallel_tool_calls: false, service_tier: 'auto', modalities: ['text'] });
    expect(request).toEqual({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'Hi' }], stream: false });
  });
});
