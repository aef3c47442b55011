/**
 * A Claude-Code-sized Messages request (~90 KB of JSON), the shape of
 * libs/dialects/src/anthropic/fixtures/claude-code-request.ts at full size: the billing block and a
 * long system prompt with cache_control, 12 tools with real-sized descriptions and JSON schemas, a
 * CLAUDE.md `<system-reminder>`, and several finished turns (thinking, tool_use, tool_result with a
 * source file and a command's output). Text is deterministic pseudo-prose (a seeded generator over an
 * engineering vocabulary), so tokenizers see word-like input, not one repeated string.
 */

const VOCAB = (
  'the a an to of and in for on with as by when if not never always use tool file files path command commands ' +
  'user task tasks code change changes test tests build run read write edit search grep glob directory project ' +
  'repository branch commit message output result error errors warning function class module import export type ' +
  'value values string number array object schema parameter parameters required optional default must should may ' +
  'before after first then only each every other instead prefer avoid keep make sure verify check report explain ' +
  'concise clear short answer question context session agent model request response stream token tokens limit ' +
  'security secret credential permission sandbox network process shell bash terminal working absolute relative ' +
  'line lines number offset range content contents pattern regex match matches case sensitive include exclude ' +
  'todo list item items status pending in_progress completed plan step steps notebook cell cells web fetch url page'
).split(/\s+/);

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function prose(seed, bytes) {
  const rand = prng(seed);
  let out = '';
  while (out.length < bytes) {
    const words = 8 + Math.floor(rand() * 14);
    let sentence = '';
    for (let i = 0; i < words; i++) sentence += (i ? ' ' : '') + VOCAB[Math.floor(rand() * VOCAB.length)];
    out += sentence[0].toUpperCase() + sentence.slice(1) + (rand() < 0.15 ? '.\n\n' : rand() < 0.1 ? ':\n- ' : '. ');
  }
  return out;
}

function sourceFile(seed, lines) {
  const rand = prng(seed);
  const out = [];
  for (let i = 1; i <= lines; i++) {
    const name = VOCAB[Math.floor(rand() * VOCAB.length)].replace(/\W/g, '');
    const kind = rand();
    const code =
      kind < 0.2
        ? `export function ${name}${i}(input: string, options: { limit?: number } = {}): string[] {`
        : kind < 0.5
          ? `  const ${name}${i} = items.filter((item) => item.${name} !== undefined && item.count > ${i});`
          : kind < 0.8
            ? `  if (!${name}${i}) throw new Error(\`${name} ${i} is missing from the request\`);`
            : `  return ${name}${i}.map((value) => value.trim()).join('\\n');`;
    out.push(`${String(i).padStart(6)}\t${code}`);
  }
  return out.join('\n');
}

const TOOL_NAMES = ['Agent', 'Bash', 'Edit', 'Glob', 'Grep', 'Read', 'Write', 'NotebookEdit', 'WebFetch', 'TodoWrite', 'WebSearch', 'Skill'];

function tool(name, index, descriptionBytes) {
  const properties = {};
  const required = [];
  const n = 3 + (index % 5);
  for (let p = 0; p < n; p++) {
    const key = ['file_path', 'command', 'pattern', 'old_string', 'new_string', 'timeout', 'description', 'path'][(index + p) % 8] + (p >= 8 ? p : '');
    properties[key] =
      p % 3 === 1
        ? { type: 'number', description: prose(index * 100 + p, 120) }
        : p % 3 === 2
          ? { type: 'array', items: { type: 'object', properties: { content: { type: 'string' }, status: { type: 'string', enum: ['pending', 'in_progress', 'completed'] } }, required: ['content', 'status'], additionalProperties: false }, description: prose(index * 100 + p, 90) }
          : { type: 'string', description: prose(index * 100 + p, 160) };
    if (p < 2) required.push(key);
  }
  return {
    name,
    description: prose(1000 + index, descriptionBytes),
    input_schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties, required, additionalProperties: false },
    ...(index === 11 ? { defer_loading: true } : {}),
  };
}

/** The request; `model` is what the gateway resolves (an Ollama model name, an alias, or a Claude name). */
export function claudeCodeRequest({ model = 'bench:latest', stream = true, scale = 1 } = {}) {
  const s = (n) => Math.round(n * scale);
  return {
    model,
    max_tokens: 32000,
    stream,
    system: [
      { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332.a1b; cc_entrypoint=sdk-cli; cch=7f3e9;' },
      { type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: { type: 'ephemeral' } },
      { type: 'text', text: prose(1, s(21_500)), cache_control: { type: 'ephemeral' } },
    ],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: `<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\n${prose(2, s(5_000))}\n</system-reminder>` },
          { type: 'text', text: "<system-reminder>\nToday's date is 2025-06-01.\n</system-reminder>" },
          { type: 'text', text: 'Why does the quota test fail on PostgreSQL? Fix it and run the tests.', cache_control: { type: 'ephemeral' } },
        ],
      },
      { role: 'system', content: 'The user is working in /tmp/project.' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: prose(3, s(1_200)), signature: '' },
          { type: 'text', text: "I'll read the quota store first." },
          { type: 'tool_use', id: 'call_k3x9a0qz', name: 'Read', input: { file_path: '/tmp/project/libs/quota/src/quota-store.ts' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_k3x9a0qz', content: sourceFile(4, s(160)) }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: prose(5, s(700)) },
          { type: 'tool_use', id: 'call_p2m8b1wd', name: 'Bash', input: { command: 'npm test -- quota', description: 'Run the quota tests' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_p2m8b1wd', content: prose(6, s(4_000)), cache_control: { type: 'ephemeral' } }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: prose(7, s(900)) },
          { type: 'tool_use', id: 'call_r7t4c6ye', name: 'Edit', input: { file_path: '/tmp/project/libs/quota/src/quota-store.ts', old_string: 'FOR UPDATE', new_string: 'FOR UPDATE SKIP LOCKED' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_r7t4c6ye', content: 'The file /tmp/project/libs/quota/src/quota-store.ts has been updated.' }] },
      { role: 'assistant', content: [{ type: 'text', text: prose(8, s(600)) }] },
      { role: 'user', content: [{ type: 'text', text: 'Good. Now also check the SQLite path and summarise.' }] },
    ],
    tools: TOOL_NAMES.map((name, i) => tool(name, i, s(1_750))),
    thinking: { type: 'adaptive', display: 'omitted' },
    output_config: { effort: 'high' },
    context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
    metadata: { user_id: JSON.stringify({ device_id: 'd41d8cd9', account_uuid: '', session_id: 'a7c3e0b2' }) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const body = JSON.stringify(claudeCodeRequest());
  console.log(`${body.length} bytes`);
}
