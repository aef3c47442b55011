import { DialectError } from '../dialect-error.js';
import { claudeCodeRequest } from './fixtures/claude-code-request.js';
import { translateMessagesRequest, type MessagesRequestContext } from './request.js';

const ctx: MessagesRequestContext = { model: 'qwen3:8b', thinkingCapable: false };

function translate(body: Record<string, unknown>, context: Partial<MessagesRequestContext> = {}) {
  return translateMessagesRequest({ model: 'claude-sonnet-4-6', max_tokens: 100, ...body }, { ...ctx, ...context });
}

function rejection(body: unknown, context: Partial<MessagesRequestContext> = {}): DialectError {
  try {
    translateMessagesRequest(body, { ...ctx, ...context });
  } catch (error) {
    if (error instanceof DialectError) return error;
    throw error;
  }
  throw new Error('expected a DialectError');
}

const user = (content: unknown) => ({ role: 'user', content });

describe('translateMessagesRequest', () => {
  describe('basics and validation', () => {
    it('translates a minimal request, using the resolved model and echoing the requested one', () => {
      const result = translate({ messages: [user('Hello')] });
      expect(result).toEqual({
        request: { model: 'qwen3:8b', messages: [{ role: 'user', content: 'Hello' }], stream: false, options: { num_predict: 100 } },
        stream: false,
        requestedModel: 'claude-sonnet-4-6',
      });
    });

    it('carries the stream flag', () => {
      const result = translate({ messages: [user('Hi')], stream: true });
      expect(result.stream).toBe(true);
      expect(result.request.stream).toBe(true);
    });

    it.each([
      ['not an object', 'hello', undefined],
      ['no model', { max_tokens: 5, messages: [user('x')] }, 'model'],
      ['a non-string model', { model: 42, max_tokens: 5, messages: [user('x')] }, 'model'],
      ['no messages', { model: 'm', max_tokens: 5 }, 'messages'],
      ['empty messages', { model: 'm', max_tokens: 5, messages: [] }, 'messages'],
      ['an unknown role', { model: 'm', messages: [{ role: 'tool', content: 'x' }] }, 'messages.0.role'],
      ['a message that is not an object', { model: 'm', messages: ['hi'] }, 'messages.0'],
      ['content of the wrong type', { model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages.0.content'],
      ['max_tokens zero', { model: 'm', max_tokens: 0, messages: [user('x')] }, 'max_tokens'],
      ['max_tokens fractional', { model: 'm', max_tokens: 1.5, messages: [user('x')] }, 'max_tokens'],
      ['max_tokens a string', { model: 'm', max_tokens: '100', messages: [user('x')] }, 'max_tokens'],
      ['temperature a string', { model: 'm', temperature: 'hot', messages: [user('x')] }, 'temperature'],
      ['stop_sequences not strings', { model: 'm', stop_sequences: [1], messages: [user('x')] }, 'stop_sequences'],
      ['system a number', { model: 'm', system: 3, messages: [user('x')] }, 'system'],
    ])('answers 400 for %s', (_name, body, param) => {
      const error = rejection(body);
      expect(error.status).toBe(400);
      expect(error.param).toBe(param);
      if (param) expect(error.message).toContain(param);
    });

    it('is lenient about a missing max_tokens: no num_predict', () => {
      const result = translateMessagesRequest({ model: 'm', messages: [user('x')] }, ctx);
      expect(result.request.options).toBeUndefined();
    });

    it('maps sampling options, stop sequences and num_ctx', () => {
      const result = translate(
        { messages: [user('x')], temperature: 0.2, top_p: 0.9, top_k: 40, stop_sequences: ['END', '###'] },
        { numCtx: 65536 },
      );
      expect(result.request.options).toEqual({
        num_predict: 100,
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        stop: ['END', '###'],
        num_ctx: 65536,
      });
    });

    it('tolerates unknown fields everywhere', () => {
      const result = translate({
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' }, citations: null }], extra: 1 },
          { role: 'assistant', content: [{ type: 'server_tool_use', id: 'srv_1', name: 'web_search', input: {} }, { type: 'text', text: 'Yo' }] },
          { role: 'user', content: [{ type: 'document', source: { type: 'text', data: 'doc' } }, { type: 'text', text: 'More' }] },
        ],
        metadata: { user_id: 'u' },
        context_management: { edits: [] },
        output_config: { effort: 'high' },
        service_tier: 'auto',
        container: null,
        mcp_servers: [],
        betas: ['x'],
      });
      expect(result.request.messages).toEqual([
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Yo' },
        { role: 'user', content: 'More' },
      ]);
    });
  });

  describe('system', () => {
    it('takes a string', () => {
      const result = translate({ system: 'Be brief.', messages: [user('x')] });
      expect(result.request.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    });

    it('joins text blocks and drops the billing header block', () => {
      const result = translate({
        system: [
          { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332; cch=abc;' },
          { type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'Be helpful.' },
        ],
        messages: [user('x')],
      });
      expect(result.request.messages[0]).toEqual({ role: 'system', content: 'You are Claude Code.\n\nBe helpful.' });
      expect(JSON.stringify(result.request)).not.toContain('billing');
    });

    it('drops a billing line at the start of a string system prompt', () => {
      const result = translate({ system: 'x-anthropic-billing-header: cch=1;\nYou are helpful.', messages: [user('x')] });
      expect(result.request.messages[0]).toEqual({ role: 'system', content: 'You are helpful.' });
    });

    it('sends no system message when there is no system text', () => {
      const result = translate({ system: [{ type: 'text', text: 'x-anthropic-billing-header: a' }], messages: [user('x')] });
      expect(result.request.messages).toEqual([{ role: 'user', content: 'x' }]);
    });

    it('merges role:"system" messages into the one leading system message, in order', () => {
      const result = translate({
        system: 'First.',
        messages: [
          user('Q1'),
          { role: 'system', content: 'Second.' },
          { role: 'assistant', content: 'A1' },
          { role: 'system', content: [{ type: 'text', text: 'Third.' }] },
          user('Q2'),
        ],
      });
      expect(result.request.messages).toEqual([
        { role: 'system', content: 'First.\n\nSecond.\n\nThird.' },
        { role: 'user', content: 'Q1' },
        { role: 'assistant', content: 'A1' },
        { role: 'user', content: 'Q2' },
      ]);
    });

    it('makes a leading system message from role:"system" messages alone', () => {
      const result = translate({ messages: [{ role: 'system', content: 'Rules.' }, user('Q')] });
      expect(result.request.messages).toEqual([
        { role: 'system', content: 'Rules.' },
        { role: 'user', content: 'Q' },
      ]);
    });
  });

  describe('content blocks', () => {
    it('joins text blocks of one message and skips empty ones', () => {
      const result = translate({
        messages: [user([{ type: 'text', text: '<system-reminder>r</system-reminder>' }, { type: 'text', text: '' }, { type: 'text', text: 'Go' }])],
      });
      expect(result.request.messages).toEqual([{ role: 'user', content: '<system-reminder>r</system-reminder>\n\nGo' }]);
    });

    it('passes base64 images as raw base64', () => {
      const result = translate({
        messages: [
          user([
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'data:image/png;base64,AAAA' } },
            { type: 'text', text: 'What is this?' },
          ]),
        ],
      });
      expect(result.request.messages).toEqual([{ role: 'user', content: 'What is this?', images: ['iVBORw0KGgo=', 'AAAA'] }]);
    });

    it('answers 400 for a URL image, naming the block', () => {
      const error = rejection({
        model: 'm',
        messages: [user([{ type: 'text', text: 'see' }, { type: 'image', source: { type: 'url', url: 'https://x/y.png' } }])],
      });
      expect(error.status).toBe(400);
      expect(error.param).toBe('messages.0.content.1.source');
      expect(error.message).toMatch(/URL image sources are not supported/);
    });

    it('answers 400 for other image sources and missing data', () => {
      expect(rejection({ model: 'm', messages: [user([{ type: 'image', source: { type: 'file', file_id: 'f' } }])] }).param).toBe(
        'messages.0.content.0.source.type',
      );
      expect(rejection({ model: 'm', messages: [user([{ type: 'image', source: { type: 'base64' } }])] }).param).toBe(
        'messages.0.content.0.source.data',
      );
      expect(rejection({ model: 'm', messages: [user([{ type: 'image' }])] }).param).toBe('messages.0.content.0.source');
    });

    it('turns assistant tool_use into tool_calls and carries thinking without its signature', () => {
      const result = translate({
        messages: [
          user('Weather in Tokyo?'),
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'Need the tool.', signature: 'EqQBCkYIBxgCKkD' },
              { type: 'redacted_thinking', data: 'opaque' },
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Tokyo' } },
              { type: 'tool_use', id: 'call_k3x9a0qz', name: 'get_time', input: {} },
            ],
          },
        ],
      });
      expect(result.request.messages[1]).toEqual({
        role: 'assistant',
        content: 'Checking.',
        thinking: 'Need the tool.',
        tool_calls: [
          { id: 'toolu_01A', function: { name: 'get_weather', arguments: { city: 'Tokyo' } } },
          { id: 'call_k3x9a0qz', function: { name: 'get_time', arguments: {} } },
        ],
      });
      expect(JSON.stringify(result.request)).not.toContain('EqQBCkYIBxgCKkD');
      expect(JSON.stringify(result.request)).not.toContain('opaque');
    });

    it('answers 400 for a tool_use without a name', () => {
      const error = rejection({ model: 'm', messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', input: {} }] }] });
      expect(error.param).toBe('messages.0.content.0.name');
    });

    it('drops an assistant message left empty (only redacted thinking)', () => {
      const result = translate({ messages: [user('a'), { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'x' }] }, user('b')] });
      expect(result.request.messages).toEqual([
        { role: 'user', content: 'a' },
        { role: 'user', content: 'b' },
      ]);
    });
  });

  describe('tool results', () => {
    const history = [
      user('Weather in Tokyo and Osaka?'),
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_aaaa1111', name: 'get_weather', input: { city: 'Tokyo' } },
          { type: 'tool_use', id: 'toolu_bbb', name: 'get_forecast', input: { city: 'Osaka' } },
        ],
      },
    ];

    it('become tool messages with tool_name resolved from the tool_use id, before the turn\'s own text', () => {
      const result = translate({
        messages: [
          ...history,
          user([
            { type: 'text', text: 'Here you go.' },
            { type: 'tool_result', tool_use_id: 'call_aaaa1111', content: '11 degrees' },
            { type: 'tool_result', tool_use_id: 'toolu_bbb', content: [{ type: 'text', text: 'Rain' }, { type: 'text', text: 'later sun' }] },
          ]),
        ],
      });
      expect(result.request.messages.slice(2)).toEqual([
        { role: 'tool', content: '11 degrees', tool_name: 'get_weather', tool_call_id: 'call_aaaa1111' },
        { role: 'tool', content: 'Rain\nlater sun', tool_name: 'get_forecast', tool_call_id: 'toolu_bbb' },
        { role: 'user', content: 'Here you go.' },
      ]);
    });

    it('keep is_error as an "Error: " prefix', () => {
      const result = translate({
        messages: [...history, user([{ type: 'tool_result', tool_use_id: 'call_aaaa1111', content: 'city not found', is_error: true }])],
      });
      expect(result.request.messages[2]).toEqual({
        role: 'tool',
        content: 'Error: city not found',
        tool_name: 'get_weather',
        tool_call_id: 'call_aaaa1111',
      });
    });

    it('carry images, accept missing content and unknown ids', () => {
      const result = translate({
        messages: [
          ...history,
          user([
            {
              type: 'tool_result',
              tool_use_id: 'call_aaaa1111',
              content: [{ type: 'text', text: 'screenshot' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'QUJD' } }],
            },
            { type: 'tool_result', tool_use_id: 'toolu_unknown' },
          ]),
        ],
      });
      expect(result.request.messages.slice(2)).toEqual([
        { role: 'tool', content: 'screenshot', images: ['QUJD'], tool_name: 'get_weather', tool_call_id: 'call_aaaa1111' },
        { role: 'tool', content: '', tool_call_id: 'toolu_unknown' },
      ]);
    });

    it('answers 400 for a URL image inside a tool result', () => {
      const error = rejection({
        model: 'm',
        messages: [...history, user([{ type: 'tool_result', tool_use_id: 'x', content: [{ type: 'image', source: { type: 'url', url: 'u' } }] }])],
      });
      expect(error.param).toBe('messages.2.content.0.content.0.source');
    });
  });

  describe('tools and tool_choice', () => {
    const tools = [
      { name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } } }, cache_control: { type: 'ephemeral' } },
      { name: 'get_time', input_schema: { type: 'object', properties: {} } },
      { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
      { type: 'bash_20250124', name: 'bash' },
    ];

    it('keeps tools with an input_schema and drops server tools', () => {
      const result = translate({ messages: [user('x')], tools });
      expect(result.request.tools).toEqual([
        { type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: tools[0]!.input_schema } },
        { type: 'function', function: { name: 'get_time', parameters: tools[1]!.input_schema } },
      ]);
    });

    it('sends no tools field when only server tools remain', () => {
      const result = translate({ messages: [user('x')], tools: [tools[2]] });
      expect(result.request.tools).toBeUndefined();
    });

    it('drops the tools for tool_choice none', () => {
      expect(translate({ messages: [user('x')], tools, tool_choice: { type: 'none' } }).request.tools).toBeUndefined();
    });

    it('keeps all tools for auto and any', () => {
      expect(translate({ messages: [user('x')], tools, tool_choice: { type: 'auto', disable_parallel_tool_use: true } }).request.tools).toHaveLength(2);
      expect(translate({ messages: [user('x')], tools, tool_choice: { type: 'any' } }).request.tools).toHaveLength(2);
    });

    it('keeps only the named tool for tool_choice tool', () => {
      const result = translate({ messages: [user('x')], tools, tool_choice: { type: 'tool', name: 'get_time' } });
      expect(result.request.tools?.map((tool) => tool.function.name)).toEqual(['get_time']);
    });

    it('answers 400 when tool_choice names an undeclared tool', () => {
      const error = rejection({ model: 'm', messages: [user('x')], tools, tool_choice: { type: 'tool', name: 'nope' } });
      expect(error.param).toBe('tool_choice.name');
    });

    it('answers 400 for a client tool without a name', () => {
      expect(rejection({ model: 'm', messages: [user('x')], tools: [{ input_schema: { type: 'object' } }] }).param).toBe('tools.0.name');
    });
  });

  describe('thinking', () => {
    it.each([
      [{ type: 'enabled', budget_tokens: 2048 }, true],
      [{ type: 'adaptive', display: 'omitted' }, true],
      [{ type: 'disabled' }, false],
      [undefined, false],
    ])('sends think for %j to a thinking-capable model as %s', (thinking, think) => {
      const result = translate({ messages: [user('x')], thinking }, { thinkingCapable: true });
      expect(result.request.think).toBe(think);
    });

    it.each([[{ type: 'enabled', budget_tokens: 2048 }], [{ type: 'adaptive' }], [{ type: 'disabled' }], [undefined]])(
      'omits think for %j on a model without the capability',
      (thinking) => {
        const result = translate({ messages: [user('x')], thinking, output_config: { effort: 'high' } }, { thinkingCapable: false });
        expect(result.request).not.toHaveProperty('think');
      },
    );
  });

  describe('a request shaped like Claude Code\'s', () => {
    it('translates without error', () => {
      const result = translateMessagesRequest(claudeCodeRequest, { model: 'qwen3:8b', numCtx: 65536, thinkingCapable: true });
      const { request } = result;

      expect(result.requestedModel).toBe('claude-sonnet-4-6');
      expect(result.stream).toBe(true);
      expect(request.think).toBe(true);
      expect(request.options).toEqual({ num_predict: 32000, num_ctx: 65536 });
      expect(request.tools).toHaveLength(12);
      expect(request.tools?.map((tool) => tool.function.name)).toContain('Read');

      const roles = request.messages.map((message) => message.role);
      expect(roles).toEqual(['system', 'user', 'assistant', 'tool']);
      expect(request.messages[0]!.content).toBe(
        "You are Claude Code, Anthropic's official CLI for Claude.\n\n" +
          'You are an interactive agent that helps users with software engineering tasks.\n\n' +
          'The user is working in /tmp/project.',
      );
      expect(request.messages[1]!.content).toMatch(/^<system-reminder>[\s\S]*What is in notes\.txt\?$/);
      expect(request.messages[2]).toEqual({
        role: 'assistant',
        content: "I'll read it.",
        thinking: 'I should read the file.',
        tool_calls: [{ id: 'call_k3x9a0qz', function: { name: 'Read', arguments: { file_path: '/tmp/project/notes.txt' } } }],
      });
      expect(request.messages[3]).toEqual({
        role: 'tool',
        content: '     1\tbuy milk\n     2\tcall Bob',
        tool_name: 'Read',
        tool_call_id: 'call_k3x9a0qz',
      });

      const json = JSON.stringify(request);
      for (const absent of ['billing', 'cache_control', 'context_management', 'output_config', 'metadata', 'defer_loading']) {
        expect(json).not.toContain(absent);
      }
    });

    it('translates without think on a model lacking the capability', () => {
      const { request } = translateMessagesRequest(claudeCodeRequest, { model: 'llama3.2', thinkingCapable: false });
      expect(request).not.toHaveProperty('think');
    });
  });
});
