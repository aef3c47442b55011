import { conversationOf } from './affinity.js';

describe('conversationOf: what the client sends', () => {
  const body = { prompt_cache_key: 'pck', user: 'usr', metadata: { user_id: 'meta' }, messages: [{ role: 'user', content: 'hi' }] };
  const headers = { 'x-claude-code-session-id': 'claude', 'session-id': 'codex' };

  it('takes the sources in order: Claude Code header, session-id, prompt_cache_key, user, metadata.user_id', () => {
    expect(conversationOf(7, headers, body)).toBe('7:s:claude');
    expect(conversationOf(7, { 'session-id': 'codex' }, body)).toBe('7:s:codex');
    expect(conversationOf(7, {}, body)).toBe('7:s:pck');
    expect(conversationOf(7, {}, { ...body, prompt_cache_key: undefined })).toBe('7:s:usr');
    expect(conversationOf(7, {}, { ...body, prompt_cache_key: undefined, user: undefined })).toBe('7:s:meta');
  });

  it('takes the first value of a repeated header', () => {
    expect(conversationOf(1, { 'session-id': ['one', 'two'] }, undefined)).toBe('1:s:one');
  });

  it('skips empty, non-string and overlong values', () => {
    expect(conversationOf(1, { 'x-claude-code-session-id': '', 'session-id': 'codex' }, undefined)).toBe('1:s:codex');
    expect(conversationOf(1, {}, { prompt_cache_key: 42, user: 'u' })).toBe('1:s:u');
    expect(conversationOf(1, {}, { user: 'x'.repeat(513), metadata: { user_id: 'm' } })).toBe('1:s:m');
    expect(conversationOf(1, {}, { user: 'x'.repeat(512) })).toBe(`1:s:${'x'.repeat(512)}`);
    expect(conversationOf(1, {}, { metadata: 'not an object' })).toBeUndefined();
  });

  it('is scoped by the key', () => {
    const a = conversationOf(1, { 'session-id': 's' }, undefined);
    const b = conversationOf(2, { 'session-id': 's' }, undefined);
    expect(a).not.toBe(b);
    const messages = [{ role: 'user', content: 'same opening' }];
    expect(conversationOf(1, {}, { messages })).not.toBe(conversationOf(2, {}, { messages }));
    expect(conversationOf(1, {}, { messages })!.startsWith('1:h:')).toBe(true);
    expect(conversationOf(2, {}, { messages })!.startsWith('2:h:')).toBe(true);
  });
});

describe('conversationOf: the hash of the opening', () => {
  const user1 = { role: 'user', content: 'Write a parser for INI files.' };
  const assistant1 = { role: 'assistant', content: 'Here is one.' };
  const user2 = { role: 'user', content: 'Now add sections.' };
  const assistant2 = { role: 'assistant', content: 'Done.' };
  const user3 = { role: 'user', content: 'And comments.' };

  it('is equal across every turn of an Anthropic conversation (system apart)', () => {
    const system = 'You are a careful engineer.';
    const turns = [[user1], [user1, assistant1, user2], [user1, assistant1, user2, assistant2, user3]].map((messages) =>
      conversationOf(3, {}, { model: 'm', system, messages }),
    );
    expect(turns[0]).toMatch(/^3:h:/);
    expect(new Set(turns).size).toBe(1);
  });

  it('is equal across every turn of an OpenAI or Ollama conversation (system message first)', () => {
    const system = { role: 'system', content: 'Be brief.' };
    const turns = [[system, user1], [system, user1, assistant1, user2], [system, user1, assistant1, user2, assistant2, user3]].map((messages) =>
      conversationOf(3, {}, { model: 'm', messages }),
    );
    expect(new Set(turns).size).toBe(1);
    // Without a system message as well.
    const bare = [[user1], [user1, assistant1, user2]].map((messages) => conversationOf(3, {}, { messages }));
    expect(new Set(bare).size).toBe(1);
  });

  it('is equal across the turns of a Responses conversation (instructions and input items)', () => {
    const instructions = 'You are Codex.';
    const turns = [[user1], [user1, assistant1, user2]].map((input) => conversationOf(3, {}, { instructions, input }));
    expect(turns[0]).toMatch(/^3:h:/);
    expect(turns[1]).toBe(turns[0]);
  });

  it('differs for different openings', () => {
    const a = conversationOf(3, {}, { messages: [user1, assistant1, user2] });
    const b = conversationOf(3, {}, { messages: [{ role: 'user', content: 'Write a parser for TOML files.' }, assistant1, user2] });
    const c = conversationOf(3, {}, { system: 'Other system prompt', messages: [user1, assistant1, user2] });
    const d = conversationOf(3, {}, { messages: [{ role: 'system', content: 'Be verbose.' }, user1] });
    const e = conversationOf(3, {}, { messages: [{ role: 'system', content: 'Be brief.' }, user1] });
    expect(new Set([a, b, c, d, e]).size).toBe(5);
  });

  it('is not affected by the later turns or the request options', () => {
    const a = conversationOf(3, {}, { model: 'm', stream: true, temperature: 0.2, messages: [user1, assistant1, user2] });
    const b = conversationOf(3, {}, { model: 'm', stream: false, max_tokens: 9, messages: [user1, { role: 'assistant', content: 'Other.' }, user3] });
    expect(a).toBe(b);
  });

  it('is undefined when there is no conversation (embeddings, bare prompts, empty bodies)', () => {
    expect(conversationOf(3, {}, undefined)).toBeUndefined();
    expect(conversationOf(3, {}, {})).toBeUndefined();
    expect(conversationOf(3, {}, { model: 'nomic-embed-text', input: 'some text' })).toBeUndefined();
    expect(conversationOf(3, {}, { model: 'nomic-embed-text', input: ['text one', 'text two'] })).toBeUndefined();
    expect(conversationOf(3, {}, { model: 'nomic-embed-text', prompt: 'some text' })).toBeUndefined();
    expect(conversationOf(3, {}, { model: 'm', prompt: 'Why is the sky blue?' })).toBeUndefined();
    expect(conversationOf(3, {}, { model: 'm', messages: [] })).toBeUndefined();
  });
});
