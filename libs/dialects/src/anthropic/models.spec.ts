import { toAnthropicModelList } from './models.js';

describe('toAnthropicModelList', () => {
  it('lists the tags in Anthropic\'s shape with RFC 3339 dates', () => {
    const list = toAnthropicModelList([
      { name: 'qwen3:8b', modified_at: '2025-05-01T12:30:45.123456789+02:00' },
      { name: 'llama3.2:latest', modified_at: '2024-10-01T08:00:00Z' },
      { name: 'odd:1' },
    ]);
    expect(list).toEqual({
      data: [
        { type: 'model', id: 'qwen3:8b', display_name: 'qwen3:8b', created_at: '2025-05-01T10:30:45.123Z' },
        { type: 'model', id: 'llama3.2:latest', display_name: 'llama3.2:latest', created_at: '2024-10-01T08:00:00Z' },
        { type: 'model', id: 'odd:1', display_name: 'odd:1', created_at: '1970-01-01T00:00:00Z' },
      ],
      has_more: false,
      first_id: 'qwen3:8b',
      last_id: 'odd:1',
    });
  });

  it('adds alias names without wildcards, dated like their target', () => {
    const list = toAnthropicModelList([{ name: 'qwen3:8b', modified_at: '2025-05-01T10:00:00Z' }], {
      'claude-*haiku*': 'qwen3:4b',
      'claude-sonnet-4-6': 'qwen3:8b',
      'qwen3:8b': 'qwen3:8b',
    });
    expect(list.data.map((model) => model.id)).toEqual(['qwen3:8b', 'claude-sonnet-4-6']);
    expect(list.data[1]).toEqual({
      type: 'model',
      id: 'claude-sonnet-4-6',
      display_name: 'claude-sonnet-4-6 (qwen3:8b)',
      created_at: '2025-05-01T10:00:00Z',
    });
  });

  it('answers an empty list with null ids', () => {
    expect(toAnthropicModelList([])).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
  });
});
