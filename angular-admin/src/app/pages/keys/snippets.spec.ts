import { buildSnippets } from './snippets';

const INFO = {
  proxy_url: 'http://gw.local:8000',
  ollama_base_url: 'http://gw.local:8000',
  openai_base_url: 'http://gw.local:8000/v1',
  anthropic_base_url: 'http://gw.local:8000',
  admin_url: 'http://gw.local:8001',
};

describe('buildSnippets', () => {
  const snippets = Object.fromEntries(buildSnippets(INFO, 'sk-test123', 'qwen3:8b').map((s) => [s.id, s.code]));

  it('builds curl against the OpenAI base URL with the key as a bearer token', () => {
    expect(snippets['curl']).toContain("'http://gw.local:8000/v1/chat/completions'");
    expect(snippets['curl']).toContain("'Authorization: Bearer sk-test123'");
    expect(snippets['curl']).toContain('"model":"qwen3:8b"');
  });

  it('builds the OpenAI and Anthropic clients with their base URLs', () => {
    expect(snippets['openai']).toContain('OpenAI(base_url="http://gw.local:8000/v1", api_key="sk-test123")');
    expect(snippets['anthropic']).toContain('anthropic.Anthropic(base_url="http://gw.local:8000", api_key="sk-test123")');
  });

  it('starts Claude Code through scripts/start_claude.sh with the URL and the key', () => {
    expect(snippets['claude-code']).toBe("scripts/start_claude.sh --url 'http://gw.local:8000' 'sk-test123'");
  });
});
