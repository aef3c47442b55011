import { ownerOf, toModel, toModelList } from './models.js';

describe('toModelList', () => {
  it('lists /api/tags entries in OpenAI shape', () => {
    const tags = {
      models: [
        { name: 'qwen3:8b', model: 'qwen3:8b', modified_at: '2026-02-14T09:30:00.123456789+01:00', size: 5_225_388_164 },
        { name: 'alice/coder:latest', model: 'alice/coder:latest', modified_at: '2026-02-15T00:00:00Z' },
        { name: 'registry.example.com:5000/team/embed:v1' },
      ],
    };
    expect(toModelList(tags)).toEqual({
      object: 'list',
      data: [
        { id: 'qwen3:8b', object: 'model', created: 1_771_057_800, owned_by: 'library' },
        { id: 'alice/coder:latest', object: 'model', created: 1_771_113_600, owned_by: 'alice' },
        { id: 'registry.example.com:5000/team/embed:v1', object: 'model', created: 0, owned_by: 'team' },
      ],
    });
  });

  it('answers an empty or null list', () => {
    expect(toModelList({ models: [] })).toEqual({ object: 'list', data: [] });
    expect(toModelList({ models: null })).toEqual({ object: 'list', data: [] });
  });
});

describe('toModel', () => {
  it('falls back to model when name is missing and tolerates a bad date', () => {
    expect(toModel({ model: 'llama3.2', modified_at: 'yesterday' })).toEqual({ id: 'llama3.2', object: 'model', created: 0, owned_by: 'library' });
  });

  it('finds the namespace as Ollama parses names', () => {
    expect(ownerOf('llama3.2')).toBe('library');
    expect(ownerOf('llama3.2:3b-instruct-q4_K_M')).toBe('library');
    expect(ownerOf('hf.co/bartowski/Qwen2.5-GGUF:Q4_K_M')).toBe('bartowski');
    expect(ownerOf('localhost:11434/me/model')).toBe('me');
  });
});
