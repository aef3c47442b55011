/**
 * The real client: the Claude Code CLI (`@anthropic-ai/claude-code`, pinned in package.json; its
 * postinstall puts the native binary at node_modules/.bin/claude) in print mode against the gateway
 * and the scripted Ollama. A plain answer is printed; a turn where the model asks for `Read` makes
 * the CLI read the file itself, send the tool_result back, and print the final answer.
 *
 * Between the CLI and the gateway sits a recording pass-through, so the test can check what Claude
 * Code actually sends (paths, auth header) without guessing from the gateway's side.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeOllama, type FakeOllama, type RecordedRequest } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { CLAUDE_CODE_TEST_ENV, claudeCodeHome, cliTempDirs, runCli, type CliRun } from './support/cli-run.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';
import { startRecordingForwarder, type RecordingForwarder } from './support/recording-forwarder.js';

const [sqlite] = await testDatabases();

const CLAUDE = fileURLToPath(new URL('../node_modules/.bin/claude', import.meta.url));
const PINNED_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> })
  .devDependencies['@anthropic-ai/claude-code'];
/** Per CLI run; each run takes a second or two here. */
const RUN_TIMEOUT_MS = 40_000;
const TEST_TIMEOUT_MS = RUN_TIMEOUT_MS + 10_000;

interface OllamaChatBody {
  model: string;
  stream: boolean;
  messages: { role: string; content: string; tool_name?: string; tool_call_id?: string; tool_calls?: { function: { name: string; arguments: unknown } }[] }[];
  tools?: { type: string; function: { name: string; parameters?: unknown } }[];
  options?: { num_ctx?: number; num_predict?: number };
}

interface AnthropicBody {
  model: string;
  stream?: boolean;
  system?: { type: string; text: string }[];
  messages: { role: string; content: string | { type: string; id?: string; name?: string; input?: unknown; tool_use_id?: string }[] }[];
}

describe('Claude Code CLI (print mode) through the gateway', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let forwarder: RecordingForwarder;
  let key: string;
  let keyId: number;
  // realpath: Claude Code resolves the cwd, and the trust entry in .claude.json must match it.
  const temp = cliTempDirs({ realpath: true });

  /** Runs `claude` with a fresh HOME and cwd, only the environment it needs, stdin closed, a deadline. */
  const claude = (args: string[], cwd = temp.make('llmproxy-cc-cwd-')): Promise<CliRun> => {
    const home = claudeCodeHome(temp, cwd);
    return runCli(CLAUDE, args, {
      cwd,
      timeoutMs: RUN_TIMEOUT_MS,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        // Its scratch folder (otherwise /tmp/claude-<uid>) inside the temporary HOME, removed afterwards.
        CLAUDE_CODE_TMPDIR: home,
        ANTHROPIC_BASE_URL: forwarder.url,
        ANTHROPIC_AUTH_TOKEN: key,
        ANTHROPIC_API_KEY: '',
        // Nothing but the gateway: no telemetry, error reports, update checks or other side traffic.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        ...CLAUDE_CODE_TEST_ENV,
      },
    });
  };

  const describeRun = (run: CliRun) =>
    `exit ${run.code} signal ${run.signal}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}\n--- seen\n` +
    forwarder.seen.map((s) => `${s.method} ${s.path} -> ${s.status}`).join('\n');

  const chats = () => upstream.requests.filter((r) => r.path === '/api/chat').map((r) => r as RecordedRequest & { body: OllamaChatBody });
  /** The chat request carrying the user's prompt (not a side request such as a title or a quota probe). */
  const chatWith = (needle: string) => chats().filter((r) => r.body.messages.some((m) => m.role === 'user' && m.content.includes(needle)));

  beforeAll(async () => {
    if (!existsSync(CLAUDE)) {
      throw new Error(
        `Claude Code CLI not found at ${CLAUDE}: it is a pinned devDependency (@anthropic-ai/claude-code) whose ` +
          'postinstall copies the native binary from its optional platform package; run `npm ci` (without --omit=optional)',
      );
    }
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await sqlite.create(), upstream.url, { ANTHROPIC_DEFAULT_MODEL: 'llama3.2' });
    forwarder = await startRecordingForwarder(gateway.proxyUrl);
    ({ key, id: keyId } = await gateway.createKey({ name: 'claude-code' }));
    // Without its postinstall (--ignore-scripts) or its platform package the binary is a stub that fails.
    const version = await claude(['--version']);
    if (version.code !== 0) throw new Error(`the Claude Code CLI at ${CLAUDE} does not run: ${describeRun(version)}`);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await forwarder?.close();
    await gateway?.close();
    await upstream?.close();
    await sqlite.dropAll();
    temp.removeAll();
  });

  beforeEach(() => {
    upstream.reset();
    forwarder.seen.length = 0;
  });

  /** Fails with everything the CLI printed and every request it made when the run did not succeed. */
  const expectPrinted = (run: CliRun, text: string) => {
    if (run.code !== 0 || !run.stdout.includes(text)) throw new Error(`expected exit 0 and "${text}" on stdout, got ${describeRun(run)}`);
  };
  /** The Anthropic requests the CLI sent (JSON bodies parsed). */
  const messagesSent = () =>
    forwarder.seen
      .filter((s) => s.method === 'POST' && /^\/v1\/messages(\?|$)/.test(s.path))
      .map((s) => ({ ...s, json: JSON.parse(s.body) as AnthropicBody }));
  const usageRecords = () => gateway.usageLines().filter((l) => l.key_id === keyId && l.dialect === 'anthropic' && l.status === 200);

  it('is the pinned version', async () => {
    const run = await claude(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(`${PINNED_VERSION} (Claude Code)`);
  }, TEST_TIMEOUT_MS);

  it('prints a plain answer (claude -p "say hello")', async () => {
    const answer = 'Hello from the scripted llama, via llmproxy.';
    const usageBefore = usageRecords().length;
    // Enough answers for the turn and any side request (title, quota probe) the CLI might add.
    upstream.enqueue(...Array.from({ length: 5 }, () => ({ text: answer })));
    const run = await claude(['-p', 'say hello']);
    expectPrinted(run, answer);

    // What Claude Code sent: bearer auth, its beta query and headers, the billing block in `system`.
    const sent = messagesSent();
    expect(sent.length).toBeGreaterThan(0);
    for (const request of sent) {
      expect(request.path).toBe('/v1/messages?beta=true');
      expect(request.headers).toMatchObject({ authorization: `Bearer ${key}`, 'anthropic-version': '2023-06-01', 'x-app': 'cli' });
      expect(request.headers['x-api-key']).toBeUndefined();
    }
    const turn = sent.find((r) => JSON.stringify(r.json.messages).includes('say hello'));
    expect(turn?.json.stream).toBe(true);
    expect(turn?.json.system?.[0]?.text).toMatch(/^x-anthropic-billing-header:/);
    // Whatever else it asked (the unauthenticated HEAD / probe included), nothing was refused.
    for (const request of forwarder.seen) expect({ request: `${request.method} ${request.path}`, status: request.status }).toEqual({ request: expect.any(String), status: 200 });

    // What reached Ollama: one leading system message without the billing block, tools, num_ctx.
    const [chat] = chatWith('say hello');
    expect(chat).toBeDefined();
    const body = chat!.body;
    expect(body.model).toBe('llama3.2');
    expect(body.messages[0]!.role).toBe('system');
    expect(body.messages.filter((m) => m.role === 'system')).toHaveLength(1);
    expect(body.messages[0]!.content).not.toContain('x-anthropic-billing-header');
    expect(body.messages[0]!.content).toContain('Claude');
    expect((body.tools ?? []).map((t) => t.function.name)).toEqual(expect.arrayContaining(['Read', 'Bash', 'Edit', 'Write']));
    for (const tool of body.tools ?? []) expect(tool).toMatchObject({ type: 'function', function: { parameters: expect.any(Object) } });
    expect(body.options?.num_ctx).toBeGreaterThanOrEqual(8192);

    const records = await eventually(() => {
      const found = usageRecords().slice(usageBefore);
      if (found.length < 1) throw new Error('no usage record for the key yet');
      return found;
    });
    expect(records[0]).toMatchObject({ key_name: 'claude-code', route: expect.stringContaining('/v1/messages'), outcome: 'ok', stream: true });
  }, TEST_TIMEOUT_MS);

  it('completes a tool round trip: the model asks for Read, the CLI reads the file and the final answer is printed', async () => {
    const cwd = temp.make('llmproxy-cc-cwd-');
    const marker = `MARKER-${Math.random().toString(36).slice(2, 12)}`;
    const file = join(cwd, 'notes.txt');
    writeFileSync(file, `The secret word is ${marker}.\n`);
    const prompt = `read ${file} and tell me the secret word`;
    const final = `The secret word is ${marker}, read through llmproxy.`;
    const usageBefore = usageRecords().length;
    // First the model asks for the tool, then it answers (as it does to any side request).
    upstream.enqueue({ toolCalls: [{ name: 'Read', arguments: { file_path: file } }] }, ...Array.from({ length: 5 }, () => ({ text: final })));

    const run = await claude(['-p', prompt, '--allowedTools', 'Read'], cwd);
    expectPrinted(run, final);

    // The CLI answered the gateway's tool_use id with a tool_result holding the file (cat -n style).
    const followUp = messagesSent().find((r) => r.json.messages.some((m) => Array.isArray(m.content) && m.content.some((b) => b.type === 'tool_result')));
    expect(followUp).toBeDefined();
    const blocks = followUp!.json.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []));
    const use = blocks.find((b) => b.type === 'tool_use');
    expect(use).toMatchObject({ name: 'Read', input: { file_path: file }, id: expect.stringMatching(/^[a-zA-Z0-9_-]+$/) });
    expect(blocks.find((b) => b.type === 'tool_result')).toMatchObject({ tool_use_id: use!.id });

    // Ollama saw the prompt alone, then the call and the result as a `tool` message naming the tool.
    const turns = chatWith(prompt);
    expect(turns.length).toBeGreaterThanOrEqual(2);
    const [first, second] = turns;
    expect(first!.body.messages.some((m) => m.role === 'tool')).toBe(false);
    const call = second!.body.messages.find((m) => m.role === 'assistant' && m.tool_calls?.length);
    expect(call?.tool_calls?.[0]?.function).toEqual({ name: 'Read', arguments: { file_path: file } });
    expect(second!.body.messages.find((m) => m.role === 'tool')).toMatchObject({ tool_name: 'Read', content: expect.stringContaining(marker) });
    expect(second!.body.messages.filter((m) => m.role === 'system')).toHaveLength(1);
    for (const request of forwarder.seen) expect(request.status).toBe(200);

    await eventually(() => {
      const found = usageRecords().slice(usageBefore);
      if (found.length < 2) throw new Error(`${found.length} usage records for the key so far, want one per turn`);
    });
  }, TEST_TIMEOUT_MS);
});
