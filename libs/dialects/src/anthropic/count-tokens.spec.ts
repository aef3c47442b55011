import { countTokensInput } from './count-tokens.js';
import { claudeCodeRequest } from './fixtures/claude-code-request.js';

describe('countTokensInput', () => {
  it('collects system, message texts, tool calls and results, and tool definitions', () => {
    const parts = countTokensInput({
      model: 'claude-sonnet-4-6',
      system: [{ type: 'text', text: 'x-anthropic-billing-header: cch=1;' }, { type: 'text', text: 'Be brief.' }],
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Use the tool.', signature: 'sig' },
            { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Tokyo' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: '11 degrees' }] }] },
      ],
      tools: [{ name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object' } }, { type: 'web_search_20250305', name: 'web_search' }],
    });
    expect(parts).toEqual([
      'Be brief.',
      'Weather?',
      'Use the tool.',
      'get_weather',
      '{"city":"Tokyo"}',
      '11 degrees',
      'get_weather',
      'Weather by city',
      '{"type":"object"}',
      'web_search',
    ]);
  });

  it('counts a single tool or system part alone (Claude Code\'s /context sends one per request)', () => {
    expect(countTokensInput({ model: 'm', messages: [{ role: 'user', content: 'foo' }], tools: [claudeCodeRequest.tools[0]] })).toEqual([
      'foo',
      'Agent',
      'Agent tool. Usage notes for Agent…',
      JSON.stringify(claudeCodeRequest.tools[0]!.input_schema),
    ]);
  });

  it('never throws on malformed input', () => {
    expect(countTokensInput('nope')).toEqual([]);
    expect(countTokensInput({ system: 5, messages: [null, { content: 7 }, { role: 'user', content: [null, { type: 'image' }] }], tools: 'x' })).toEqual([]);
  });

  it('handles the Claude Code-shaped request', () => {
    const parts = countTokensInput(claudeCodeRequest);
    expect(parts.join('\n')).toContain('What is in notes.txt?');
    expect(parts.join('\n')).not.toContain('billing');
    expect(parts.length).toBeGreaterThan(12 * 3);
  });
});
