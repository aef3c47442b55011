import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSnippets } from './assets/snippets.js';

interface AdminSnippet {
  id: string;
  label: string;
  code: string;
}

// The admin UI's module, loaded by path: it belongs to the Angular build (its own compiler options),
// not to this project's type check.
const ADMIN_SNIPPETS = join(dirname(fileURLToPath(import.meta.url)), '../../../../../angular-admin/src/app/pages/keys/snippets.ts');

describe('the key holder page’s snippets', () => {
  const origin = 'http://llm.example.com:8000';
  const key = `sk-${'A1b2'.repeat(10)}xyz`;

  it('are the admin UI’s new-key snippets, text for text, where both have one', async () => {
    const admin = (await import(ADMIN_SNIPPETS)) as { buildSnippets(info: { openai_base_url: string; anthropic_base_url: string }, key: string, model: string): AdminSnippet[] };
    for (const model of ['llama3.2', "it's:odd/name"]) {
      const theirs = admin.buildSnippets({ openai_base_url: `${origin}/v1`, anthropic_base_url: origin }, key, model);
      const ours = new Map(buildSnippets(origin, key, model).map((s) => [s.id, s.code]));
      expect(theirs.map((s) => s.id)).toEqual(['curl', 'openai', 'anthropic', 'claude-code']);
      for (const snippet of theirs) expect({ id: snippet.id, code: ours.get(snippet.id as never) }).toEqual({ id: snippet.id, code: snippet.code });
    }
  });

  it('hold the key and the origin in every snippet, and quote them for the shell', () => {
    const snippets = buildSnippets(origin, key, 'qwen3:8b');
    expect(snippets.map((s) => s.id)).toEqual(['curl', 'openai', 'openai-js', 'anthropic', 'claude-code', 'claude-code-env', 'codex']);
    for (const snippet of snippets) {
      expect(snippet.code).toContain(key);
      expect(snippet.code).toContain(origin);
    }
    const codex = snippets.find((s) => s.id === 'codex')!.code;
    expect(codex).toContain(`base_url="${origin}/v1"`);
    expect(buildSnippets(origin, "sk-'quoted", 'm').find((s) => s.id === 'claude-code')!.code).toBe(`scripts/start_claude.sh --url '${origin}' 'sk-'\\''quoted'`);
  });
});
