import { allFields, assertNoSecret, diffFields, redactUrl } from './changes.js';

describe('audit changes', () => {
  it('lists only the fields that changed, comparing arrays and objects by content', () => {
    const before: Record<string, unknown> = { name: 'a', limit: 10, models: ['x'], aliases: { a: 'b' } };
    expect(diffFields(before, { name: 'a', limit: null, models: ['x'], aliases: { a: 'c' } }, ['name', 'limit', 'models', 'aliases'])).toEqual({
      limit: { old: 10, new: null },
      aliases: { old: { a: 'b' }, new: { a: 'c' } },
    });
    expect(diffFields(before, {}, ['name', 'limit'])).toEqual({});
  });

  it('describes a creation and a deletion field by field, skipping empty values', () => {
    expect(allFields({ name: 'k', limit: null })).toEqual({ name: { old: null, new: 'k' } });
    expect(allFields({ name: 'k', limit: 5 }, true)).toEqual({ name: { old: 'k', new: null }, limit: { old: 5, new: null } });
  });

  it('refuses secret field names', () => {
    for (const field of ['key', 'key_hash', 'password', 'token', 'token_hash']) {
      expect(() => assertNoSecret({ [field]: { old: null, new: 'x' } })).toThrow(field);
    }
    expect(() => assertNoSecret({ key_prefix: { old: 'sk-abc', new: 'sk-def' } })).not.toThrow();
  });

  it('masks a URL password', () => {
    expect(redactUrl('http://user:s3cret@ollama:11434')).toBe('http://user:***@ollama:11434');
    expect(redactUrl('http://ollama:11434/base/')).toBe('http://ollama:11434/base/');
  });
});
