// Ready-to-paste client snippets for the key holder's page (/me), run in the browser as is: plain
// JavaScript, no build step, no imports. Its types are in snippets.d.ts.
//
// A second copy, kept small, of the admin UI's angular-admin/src/app/pages/keys/snippets.ts rather
// than one module both compile: the admin UI builds with Angular's toolchain, this page is served
// unbuilt from the gateway's files, and the proxy port must not carry the admin UI's code. The four
// snippets both have (curl, openai, anthropic, claude-code) must stay the same text:
// snippets.spec.ts compares them.

/** Single-quoted for POSIX shells. */
function sh(value) {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The snippets for `key` against the proxy listener at `origin` (its scheme, host and port),
 * asking for `model`.
 * @param {string} origin
 * @param {string} key
 * @param {string} model
 * @returns {{ id: string; label: string; code: string }[]}
 */
export function buildSnippets(origin, key, model) {
  const openaiBase = `${origin}/v1`;
  // Anthropic's clients and Claude Code append /v1/messages themselves.
  const anthropicBase = origin;
  const chatBody = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }] });
  return [
    {
      id: 'curl',
      label: 'curl (OpenAI dialect)',
      code: [
        `curl ${sh(`${openaiBase}/chat/completions`)} \\`,
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
        `client = OpenAI(base_url=${JSON.stringify(openaiBase)}, api_key=${JSON.stringify(key)})`,
        'reply = client.chat.completions.create(',
        `    model=${JSON.stringify(model)},`,
        '    messages=[{"role": "user", "content": "Hello!"}],',
        ')',
        'print(reply.choices[0].message.content)',
      ].join('\n'),
    },
    {
      id: 'openai-js',
      label: 'OpenAI client (JavaScript)',
      code: [
        "import OpenAI from 'openai';",
        '',
        `const client = new OpenAI({ baseURL: ${JSON.stringify(openaiBase)}, apiKey: ${JSON.stringify(key)} });`,
        'const reply = await client.chat.completions.create({',
        `  model: ${JSON.stringify(model)},`,
        "  messages: [{ role: 'user', content: 'Hello!' }],",
        '});',
        'console.log(reply.choices[0].message.content);',
      ].join('\n'),
    },
    {
      id: 'anthropic',
      label: 'Anthropic client (Python)',
      code: [
        'import anthropic',
        '',
        `client = anthropic.Anthropic(base_url=${JSON.stringify(anthropicBase)}, api_key=${JSON.stringify(key)})`,
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
      label: 'Claude Code (with llmproxy’s scripts)',
      // A bare URL would be passed on to `claude`; the script takes it with --url.
      code: `scripts/start_claude.sh --url ${sh(anthropicBase)} ${sh(key)}`,
    },
    {
      id: 'claude-code-env',
      label: 'Claude Code (the claude command alone)',
      // What start_claude.sh sets: the key as a bearer token, no Anthropic API key, no traffic to Anthropic.
      code: [
        `ANTHROPIC_BASE_URL=${sh(anthropicBase)} \\`,
        `ANTHROPIC_AUTH_TOKEN=${sh(key)} \\`,
        `ANTHROPIC_API_KEY='' \\`,
        `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \\`,
        `claude --model ${sh(model)}`,
      ].join('\n'),
    },
    {
      id: 'codex',
      label: 'Codex',
      // The provider start_codex.sh writes into its own CODEX_HOME, given on the command line instead;
      // the key stays in the environment.
      code: [
        '# with a checkout of llmproxy (its scripts/ folder):',
        `scripts/start_codex.sh --url ${sh(origin)} --model ${sh(model)} ${sh(key)}`,
        '# or the codex command alone:',
        `LLMPROXY_API_KEY=${sh(key)} codex \\`,
        `  -c 'model_provider="llmproxy"' \\`,
        `  -c ${sh(`model_providers.llmproxy={name="llmproxy",base_url=${JSON.stringify(openaiBase)},wire_api="responses",env_key="LLMPROXY_API_KEY"}`)} \\`,
        `  -m ${sh(model)}`,
      ].join('\n'),
    },
  ];
}
