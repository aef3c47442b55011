import type { ProxyInfo } from '../../api/admin-api.types';

export interface Snippet {
  id: 'curl' | 'openai' | 'anthropic' | 'claude-code';
  label: string;
  code: string;
}

/** Single-quoted for POSIX shells. */
function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Ready-to-paste uses of a new key against this gateway's proxy listener. */
export function buildSnippets(info: ProxyInfo, key: string, model: string): Snippet[] {
  const chatBody = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }] });
  return [
    {
      id: 'curl',
      label: 'curl (OpenAI dialect)',
      code: [
        `curl ${sh(`${info.openai_base_url}/chat/completions`)} \\`,
        `  -H ${sh(`Authorization: Bearer ${key}`)} \\`,
        `  -H 'Content-Type: application/json' \\`,
        `  -d ${sh(chatBody)}`,
      ].join('\n'),
    },
    {
      id: 'openai',
      label: 'OpenAI client (Python)',
      code: [
        'from openai import OpenAI',
        '',
        `client = OpenAI(base_url=${JSON.stringify(info.openai_base_url)}, api_key=${JSON.stringify(key)})`,
        'reply = client.chat.completions.create(',
        `    model=${JSON.stringify(model)},`,
        '    messages=[{"role": "user", "content": "Hello!"}],',
        ')',
        'print(reply.choices[0].message.content)',
      ].join('\n'),
    },
    {
      id: 'anthropic',
      label: 'Anthropic client (Python)',
      code: [
        'import anthropic',
        '',
        `client = anthropic.Anthropic(base_url=${JSON.stringify(info.anthropic_base_url)}, api_key=${JSON.stringify(key)})`,
        'message = client.messages.create(',
        `    model=${JSON.stringify(model)},`,
        '    max_tokens=512,',
        '    messages=[{"role": "user", "content": "Hello!"}],',
        ')',
        'print(message.content[0].text)',
      ].join('\n'),
    },
    {
      id: 'claude-code',
      label: 'Claude Code',
      // A bare URL would be passed on to `claude`; the script takes it with --url.
      code: `scripts/start_claude.sh --url ${sh(info.anthropic_base_url)} ${sh(key)}`,
    },
  ];
}
