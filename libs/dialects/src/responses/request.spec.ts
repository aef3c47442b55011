import { DialectError } from '../dialect-error.js';
import { flatName, translateResponsesRequest } from './request.js';

const ctx = { model: 'qwen3-coder:30b', numCtx: 32768, thinkingCapable: true };

/** What Codex 0.169.0 sends on a turn after a tool call (abridged: the real body is ~40 KB). */
const codexTurn = {
  model: 'qwen3-coder:30b',
  stream: true,
  instructions: 'You are Codex.',
  input: [
    { type: 'message', role: 'developer', content: [{ type: 'input_text', text: '<permissions>sandboxed</permissions>' }] },
    { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'List the files.' }] },
    { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'I should run ls.' }], encrypted_content: null },
    { type: 'function_call', call_id: 'call_1', name: 'exec_command', arguments: '{"cmd":"ls"}' },
    { type: 'function_call_output', call_id: 'call_1', output: 'a.txt\nb.txt' },
    { type: 'function_call', call_id: 'call_2', name: 'search', namespace: 'mcp__docs__', arguments: '{"q":"x"}' },
    { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'found' }] },
  ],
  tools: [
    { type: 'function', name: 'exec_command', description: 'Runs a command', strict: false, parameters: { type: 'object', properties: { cmd: { type: 'string' } } } },
    { type: 'namespace', name: 'mcp__docs__', description: 'Docs', tools: [{ type: 'function', name: 'search', parameters: { type: 'object', properties: { q: { type: 'string' } } } }] },
    { type: 'web_search', external_web_access: false },
  ],
  tool_choice: 'auto',
  parallel_tool_calls: true,
  reasoning: { summary: 'auto' },
  store: false,
  include: ['reasoning.encrypted_content'],
  prompt_cache_key: 'session-1',
  client_metadata: { originator: 'codex_exec' },
};

function refusal(body: unknown): DialectError {
  try {
    translateResponsesRequest(body, ctx);
  } catch (error) {
    if (error instanceof DialectError) return error;
    throw error;
  }
  throw new Error('expected a DialectError');
}

describe('translateResponsesRequest', () => {
  it("translates Codex's turn: instructions first, developer as system, reasoning as the next assistant turn's thinking, tool history", () => {
    const { request, stream, requestedModel } = translateResponsesRequest(codexTurn, ctx);
    expect(stream).toBe(true);
    expect(requestedModel).toBe('qwen3-coder:30b');
    expect(request.model).toBe('qwen3-coder:30b');
    expect(request.messages).toEqual([
      { role: 'system', content: 'You are Codex.' },
      { role: 'system', content: '<permissions>sandboxed</permissions>' },
      { role: 'user', content: 'List the files.' },
      {
        role: 'assistant',
        content: '',
        thinking: 'I should run ls.',
        tool_calls: [{ id: 'call_1', function: { name: 'exec_command', arguments: { cmd: 'ls' } } }],
      },
      { role: 'tool', content: 'a.txt\nb.txt', tool_call_id: 'call_1', tool_name: 'exec_command' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_2', function: { name: 'mcp__docs__search', arguments: { q: 'x' } } }] },
      { role: 'tool', content: 'found', tool_call_id: 'call_2', tool_name: 'mcp__docs__search' },
    ]);
    expect(request.options).toEqual({ num_ctx: 32768 });
    // No effort asked for: Ollama's default (thinking on for a capable model) stands.
    expect(request.think).toBeUndefined();
  });

  it('flattens namespace tools reversibly and leaves hosted tools out of what the model sees', () => {
    const translated = translateResponsesRequest(codexTurn, ctx);
    expect(translated.request.tools?.map((t) => t.function.name)).toEqual(['exec_command', 'mcp__docs__search']);
    expect(translated.request.tools?.[0]).toEqual({
      type: 'function',
      function: { name: 'exec_command', description: 'Runs a command', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } },
    });
    expect(translated.namespaced).toEqual({ mcp__docs__search: { namespace: 'mcp__docs__', name: 'search' } });
    expect(translated.droppedTools).toEqual(['web_search']);
    expect(flatName('crm', 'lookup')).toBe('crm__lookup');
  });

  it('echoes what a Response repeats of its request', () => {
    const { echo } = translateResponsesRequest({ ...codexTurn, max_output_tokens: 500, temperature: 0.2, metadata: { a: '1' } }, ctx);
    expect(echo).toMatchObject({
      instructions: 'You are Codex.',
      max_output_tokens: 500,
      parallel_tool_calls: true,
      prompt_cache_key: 'session-1',
      reasoning: { effort: null, summary: 'auto' },
      temperature: 0.2,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      top_p: null,
      metadata: { a: '1' },
    });
    expect(echo.tools).toHaveLength(3);
  });

  it('takes a plain string input as one user message', () => {
    const { request, stream } = translateResponsesRequest({ model: 'm', input: 'Say hello' }, ctx);
    expect(request.messages).toEqual([{ role: 'user', content: 'Say hello' }]);
    expect(stream).toBe(false);
    expect(request.stream).toBe(false);
  });

  it('reads message shorthand, output_text replays and inline images; refuses remote images and files', () => {
    const { request } = translateResponsesRequest(
      {
        model: 'm',
        input: [
          { role: 'user', content: [{ type: 'input_text', text: 'What is this?' }, { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=' }] },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'A PNG.' }] },
        ],
      },
      ctx,
    );
    expect(request.messages).toEqual([
      { role: 'user', content: 'What is this?', images: ['iVBORw0KGgo='] },
      { role: 'assistant', content: 'A PNG.' },
    ]);
    expect(refusal({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x/y.png' }] }] }).param).toBe(
      'input[0].content[0].image_url',
    );
    expect(refusal({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }).message).toMatch(/File inputs/);
  });

  it('joins consecutive function calls into one assistant turn (parallel calls)', () => {
    const { request } = translateResponsesRequest(
      {
        model: 'm',
        input: [
          { role: 'user', content: 'weather?' },
          { type: 'function_call', call_id: 'a', name: 'w', arguments: '{"c":"x"}' },
          { type: 'function_call', call_id: 'b', name: 'w', arguments: '' },
          { type: 'function_call_output', call_id: 'a', output: '1' },
          { type: 'function_call_output', call_id: 'b', output: '2' },
        ],
      },
      ctx,
    );
    expect(request.messages[1]).toEqual({
      role: 'assistant',
      content: '',
      tool_calls: [
        { id: 'a', function: { name: 'w', arguments: { c: 'x' } } },
        { id: 'b', function: { name: 'w', arguments: {} } },
      ],
    });
    expect(request.messages.slice(2).map((m) => m.tool_call_id)).toEqual(['a', 'b']);
  });

  it('maps reasoning.effort to think only for a thinking model', () => {
    expect(translateResponsesRequest({ model: 'm', input: 'x', reasoning: { effort: 'high' } }, ctx).request.think).toBe('high');
    expect(translateResponsesRequest({ model: 'm', input: 'x', reasoning: { effort: 'minimal' } }, ctx).request.think).toBe(false);
    expect(translateResponsesRequest({ model: 'm', input: 'x', reasoning: { effort: 'high' } }, { ...ctx, thinkingCapable: false }).request.think).toBeUndefined();
    expect(refusal({ model: 'm', input: 'x', reasoning: { effort: 'max' } }).param).toBe('reasoning.effort');
  });

  it('sends max_output_tokens as num_predict, sampling options and the text format', () => {
    const { request } = translateResponsesRequest(
      { model: 'm', input: 'x', max_output_tokens: 64, temperature: 0.5, top_p: 0.9, text: { format: { type: 'json_schema', name: 's', schema: { type: 'object' } } } },
      { model: 'm', thinkingCapable: false },
    );
    expect(request.options).toEqual({ num_predict: 64, temperature: 0.5, top_p: 0.9 });
    expect(request.format).toEqual({ type: 'object' });
    expect(translateResponsesRequest({ model: 'm', input: 'x', text: { format: { type: 'json_object' } } }, ctx).request.format).toBe('json');
    expect(refusal({ model: 'm', input: 'x', max_output_tokens: 0 }).param).toBe('max_output_tokens');
  });

  it('narrows or drops the tools by tool_choice; a hosted tool choice is refused', () => {
    const tools = [
      { type: 'function', name: 'a' },
      { type: 'function', name: 'b' },
    ];
    const names = (toolChoice: unknown) => translateResponsesRequest({ model: 'm', input: 'x', tools, tool_choice: toolChoice }, ctx).request.tools?.map((t) => t.function.name);
    expect(names('auto')).toEqual(['a', 'b']);
    expect(names('required')).toEqual(['a', 'b']);
    expect(names('none')).toBeUndefined();
    expect(names({ type: 'function', name: 'b' })).toEqual(['b']);
    expect(names({ type: 'allowed_tools', mode: 'auto', tools: [{ type: 'function', name: 'a' }] })).toEqual(['a']);
    expect(refusal({ model: 'm', input: 'x', tools, tool_choice: { type: 'web_search' } }).param).toBe('tool_choice');
    expect(refusal({ model: 'm', input: 'x', tools, tool_choice: { type: 'function', name: 'c' } }).param).toBe('tool_choice');
    expect(refusal({ model: 'm', input: 'x', tools: [...tools, { type: 'function', name: 'a' }] }).param).toBe('tools[2]');
  });

  it('refuses what needs server-side state, saying the gateway keeps none', () => {
    for (const [field, value] of [
      ['previous_response_id', 'resp_1'],
      ['conversation', 'conv_1'],
      ['store', true],
      ['background', true],
    ] as const) {
      const error = refusal({ model: 'm', input: 'x', [field]: value });
      expect(error.status).toBe(400);
      expect(error.param).toBe(field);
      expect(error.message).toMatch(/keeps no state/);
    }
    expect(refusal({ model: 'm', input: [{ type: 'item_reference', id: 'msg_1' }] }).message).toMatch(/keeps no state/);
    // store: false, and the SDK's nulls for unset fields, are fine.
    expect(() => translateResponsesRequest({ model: 'm', input: 'x', store: false, previous_response_id: null }, ctx)).not.toThrow();
  });

  it('names the field at fault', () => {
    expect(refusal({ input: 'x' }).param).toBe('model');
    expect(refusal({ model: 'm' }).param).toBe('input');
    expect(refusal({ model: 'm', input: [{ type: 'message', role: 'tool', content: 'x' }] }).param).toBe('input[0].role');
    expect(refusal({ model: 'm', input: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: '{' }] }).param).toBe('input[0].arguments');
    expect(refusal({ model: 'm', input: [{ type: 'computer_call_output' }] }).param).toBe('input[0].type');
  });
});
