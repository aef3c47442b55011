/**
 * The real client: OpenAI's Codex CLI (`@openai/codex`, pinned in package.json; a native binary shipped
 * through npm) started by scripts/start_codex.sh against the gateway and the scripted Ollama. `codex exec`
 * answers a prompt; in a tool round trip the scripted model calls Codex's shell tool (`exec_command`,
 * `{"cmd": …}` in 0.169.0), Codex runs the command itself, sends its output back, and prints the answer.
 * HOME and CODEX_HOME are temporary: nothing of the user's own ~/.codex is read or written.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODELS, startFakeOllama, type FakeOllama, type RecordedRequest } from './upstream/fake-ollama.js';
import { cliTempDirs, runCli, type CliRun } from './support/cli-run.js';
import { testDatabases } from './support/databases.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

const [sqlite] = await testDatabases();

const SCRIPT = fileURLToPath(new URL('../scripts/start_codex.sh', import.meta.url));
const BIN = fileURLToPath(new URL('../node_modules/.bin', import.meta.url));
const PINNED_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> })
  .devDependencies['@openai/codex'];
const MODEL = 'qwen3-coder:30b';
const MODEL_CONTEXT = 24_576;
const RUN_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = RUN_TIMEOUT_MS + 10_000;

interface OllamaChatBody {
  messages: { role: string; content: string; tool_calls?: { id?: string; function: { name: string; arguments: unknown } }[]; tool_call_id?: string }[];
  tools?: { function: { name: string } }[];
  options?: { num_ctx?: number; num_predict?: number };
}

interface CodexRun extends CliRun {
  /** The private CODEX_HOME the run used. */
  codexHome: string;
}

const METADATA_WARNING = 'Model metadata for';
/** `codex exec --json` events of type item.completed whose item is an error (Codex's warnings). */
const errorItems = (stdout: string): string[] =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { type: string; item?: { type: string; message?: string } })
    .filter((event) => event.type === 'item.completed' && event.item?.type === 'error')
    .map((event) => event.item!.message ?? '');

/** The context windows Codex recorded for its turns (task_started events of the session files it keeps). */
const recordedWindows = (codexHome: string): number[] => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.jsonl')) files.push(join(dir, entry.name));
    }
  };
  walk(join(codexHome, 'sessions'));
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; payload?: { type?: string; model_context_window?: number } })
      .filter((line) => line.type === 'event_msg' && line.payload?.type === 'task_started')
      .map((line) => line.payload!.model_context_window!),
  );
};

describe('Codex CLI (codex exec) through the gateway', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;
  const temp = cliTempDirs();

  /** start_codex.sh with the key as its argument, a fresh HOME, CODEX_HOME and cwd, stdin closed, a deadline. */
  const codex = (args: string[], cwd = temp.make('llmproxy-codex-cwd-')): Promise<CodexRun> => {
    const home = temp.make('llmproxy-codex-home-');
    return run(SCRIPT, ['-u', gateway.proxyUrl, '-m', MODEL, key, ...args], cwd, { HOME: home, LLMPROXY_CODEX_HOME: join(home, 'codex-home') }, join(home, 'codex-home'));
  };

  /**
   * The real `codex` itself, without the script: the same provider block (the script's, by -c), so Codex
   * runs the model on its fallback metadata. What Codex does without this project's model metadata.
   */
  const bareCodex = (args: string[], cwd = temp.make('llmproxy-codex-cwd-')): Promise<CodexRun> => {
    const home = temp.make('llmproxy-codex-home-');
    const codexHome = join(home, 'codex-home');
    mkdirSync(codexHome);
    const provider = `{name="llmproxy",base_url=${JSON.stringify(`${gateway.proxyUrl}/v1`)},wire_api="responses",env_key="LLMPROXY_CODEX_API_KEY"}`;
    const config = ['-c', `model=${JSON.stringify(MODEL)}`, '-c', 'model_provider="llmproxy"', '-c', `model_providers.llmproxy=${provider}`];
    return run(join(BIN, 'codex'), [args[0], ...config, ...args.slice(1)], cwd, { HOME: home, CODEX_HOME: codexHome, LLMPROXY_CODEX_API_KEY: key }, codexHome);
  };

  const run = async (command: string, args: string[], cwd: string, env: Record<string, string>, codexHome: string): Promise<CodexRun> => ({
    ...(await runCli(command, args, {
      cwd,
      timeoutMs: RUN_TIMEOUT_MS,
      env: { PATH: `${BIN}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`, RUST_LOG: 'error', ...env },
    })),
    codexHome,
  });
  const chats = () => upstream.requests.filter((r: RecordedRequest) => r.path === '/api/chat');

  beforeAll(async () => {
    // A context length of its own (below the gateway's num_ctx) so the window the gateway reports is this one.
    upstream = await startFakeOllama({ models: [...DEFAULT_MODELS, { name: MODEL, capabilities: ['completion', 'tools'], contextLength: MODEL_CONTEXT }] });
    gateway = await startTestGateway(await sqlite.create(), upstream.url);
    key = (await gateway.createKey({ name: 'codex' })).key;
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await sqlite.dropAll();
    temp.removeAll();
  });

  beforeEach(() => upstream.reset());

  it(`runs the pinned version (${PINNED_VERSION})`, async () => {
    const run = await codex(['--version']);
    expect(run.stdout).toContain(`codex-cli ${PINNED_VERSION}`);
  });

  it(
    'codex exec answers a prompt through POST /v1/responses',
    async () => {
      upstream.enqueue({ text: 'Hello from the local model.' });
      const run = await codex(['exec', '--skip-git-repo-check', 'Say hello']);
      expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
      expect(run.stdout).toContain('Hello from the local model.');
      const [chat] = chats();
      const body = chat.body as OllamaChatBody;
      expect(body.messages.at(-1)).toMatchObject({ role: 'user', content: expect.stringContaining('Say hello') });
      // Codex's function tools reach the model; its hosted web_search does not.
      const names = body.tools?.map((t) => t.function.name) ?? [];
      expect(names).toContain('exec_command');
      expect(names).not.toContain('web_search');
      const line = gateway.usageLines().find((l) => l.key_name === 'codex');
      expect(line).toMatchObject({ dialect: 'openai', outcome: 'ok', stream: true });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a tool round trip: the model calls Codex's exec_command, Codex runs it and the model answers with its output",
    async () => {
      upstream.enqueue(
        { toolCalls: [{ name: 'exec_command', arguments: { cmd: 'echo llmproxy-$((6*7))' } }] },
        { text: 'The command printed llmproxy-42.' },
      );
      const run = await codex(['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', 'Run the echo command']);
      expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
      expect(run.stdout).toContain('The command printed llmproxy-42.');
      const [, second] = chats();
      const messages = (second.body as OllamaChatBody).messages;
      const call = messages.find((m) => m.role === 'assistant' && m.tool_calls?.length);
      expect(call?.tool_calls?.[0]).toMatchObject({ function: { name: 'exec_command', arguments: { cmd: 'echo llmproxy-$((6*7))' } } });
      const output = messages.find((m) => m.role === 'tool');
      expect(output?.content).toContain('llmproxy-42');
      expect(output?.tool_call_id).toBe(call?.tool_calls?.[0].id);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "Codex finds metadata for the model (no fallback warning), runs with the gateway's window and keeps its own prompt",
    async () => {
      const models = await fetch(`${gateway.proxyUrl}/v1/models/${MODEL}`, { headers: { authorization: `Bearer ${key}` } });
      const window = ((await models.json()) as { context_window: number }).context_window;
      expect(window).toBe(MODEL_CONTEXT);

      // Without this project's metadata: Codex warns, assumes its fallback window, and sends its own prompt.
      upstream.enqueue({ text: 'Fallback answer.' });
      const bare = await bareCodex(['exec', '--json', '--skip-git-repo-check', 'Say hello']);
      expect({ code: bare.code, stderr: bare.stderr }).toMatchObject({ code: 0 });
      expect(errorItems(bare.stdout).some((m) => m.startsWith(METADATA_WARNING))).toBe(true);
      const [fallbackChat] = chats();
      const fallbackBody = fallbackChat.body as OllamaChatBody;
      const codexPrompt = fallbackBody.messages[0];
      expect(codexPrompt).toMatchObject({ role: 'system', content: expect.stringContaining('Codex CLI') });
      upstream.reset();

      upstream.enqueue({ text: 'Hello with metadata.' });
      const run = await codex(['exec', '--json', '--skip-git-repo-check', 'Say hello']);
      expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
      expect(run.stdout).toContain('Hello with metadata.');
      // The warning is gone.
      expect(errorItems(run.stdout).filter((m) => m.startsWith(METADATA_WARNING))).toEqual([]);
      // Codex was given a catalog for the model, with the gateway's window and, as base instructions,
      // exactly the prompt it sends on its fallback metadata; and that prompt is what the model received.
      const config = readFileSync(join(run.codexHome, 'config.toml'), 'utf8');
      expect(config).toContain(`model_context_window = ${window}`);
      const catalog = JSON.parse(readFileSync(join(run.codexHome, 'llmproxy-models.json'), 'utf8')) as {
        models: { slug: string; context_window: number; base_instructions: string }[];
      };
      expect(catalog.models).toHaveLength(1);
      expect(catalog.models[0]).toMatchObject({ slug: MODEL, context_window: window, base_instructions: codexPrompt.content });
      const [chat] = chats();
      const body = chat.body as OllamaChatBody;
      expect(body.messages[0]).toEqual(codexPrompt);
      // The same tools as on fallback metadata (spawn_agent now offers the gateway's model, not OpenAI's).
      const names = (b: OllamaChatBody) => b.tools?.map((t) => t.function.name);
      expect(names(body)).toEqual(names(fallbackBody));
      // Codex ran the turn with the gateway's window (it keeps 95% of a model's window for input), not
      // its fallback 272,000 tokens.
      expect(recordedWindows(bare.codexHome)).toEqual([Math.floor((272_000 * 95) / 100)]);
      expect(recordedWindows(run.codexHome)).toEqual([Math.floor((window * 95) / 100)]);
    },
    2 * TEST_TIMEOUT_MS,
  );
});

describe('scripts/start_codex.sh', () => {
  const temp: string[] = [];
  afterAll(() => {
    for (const dir of temp) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the script with a stand-in `codex` that records its arguments, CODEX_HOME and the key variable. */
  const start = (args: string[], env: Record<string, string> = {}) => {
    const root = mkdtempSync(join(tmpdir(), 'llmproxy-start-codex-'));
    temp.push(root);
    const home = join(root, 'home');
    const bin = join(root, 'bin');
    const cwd = join(root, 'cwd');
    mkdirSync(join(home, '.codex'), { recursive: true });
    writeFileSync(join(home, '.codex', 'config.toml'), 'model = "gpt-5"\n');
    mkdirSync(bin);
    mkdirSync(cwd);
    const record = join(root, 'record.json');
    writeFileSync(
      join(bin, 'codex'),
      `#!/bin/sh\nnode -e 'require("fs").writeFileSync(process.argv[1], JSON.stringify({args: process.argv.slice(2), home: process.env.CODEX_HOME, key: process.env.LLMPROXY_CODEX_API_KEY}))' ${JSON.stringify(record)} "$@"\n`,
    );
    chmodSync(join(bin, 'codex'), 0o755);
    const result = spawnSync(SCRIPT, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      env: { PATH: `${bin}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: home, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace('$HOME', home)])) },
    });
    const recorded = existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as { args: string[]; home: string; key: string }) : undefined;
    return { result, recorded, home, cwd, root };
  };

  it('refuses to start without a key', () => {
    const { result, recorded } = start(['exec', 'hi']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no API key');
    expect(recorded).toBeUndefined();
  });

  it('builds the provider config in a private CODEX_HOME, passes -m, keeps the key out of the file and leaves ~/.codex alone', () => {
    const { result, recorded, home } = start(['-u', 'http://gw.example:8000/v1', '-m', 'qwen3-coder:30b', 'sk-test-0123456789', 'exec', '--json', 'Say hello']);
    expect(result.status).toBe(0);
    expect(recorded!.args).toEqual(['exec', '--json', 'Say hello']);
    expect(recorded!.key).toBe('sk-test-0123456789');
    expect(recorded!.home).toBe(join(home, '.local', 'state', 'llmproxy', 'codex'));
    const config = readFileSync(join(recorded!.home, 'config.toml'), 'utf8');
    expect(config).toContain('model = "qwen3-coder:30b"');
    expect(config).toContain('model_provider = "llmproxy"');
    expect(config).toContain('base_url = "http://gw.example:8000/v1"');
    expect(config).toContain('wire_api = "responses"');
    expect(config).toContain('env_key = "LLMPROXY_CODEX_API_KEY"');
    expect(config).not.toContain('sk-test');
    expect(readdirSync(join(home, '.codex'))).toEqual(['config.toml']);
    expect(readFileSync(join(home, '.codex', 'config.toml'), 'utf8')).toBe('model = "gpt-5"\n');
  });

  it('takes the key from LLMPROXY_API_KEY and the home from LLMPROXY_CODEX_HOME; the URL defaults to localhost:8000', () => {
    const fromEnv = start(['exec', 'hi'], { LLMPROXY_API_KEY: 'sk-from-env', LLMPROXY_CODEX_HOME: '/tmp/never-used-by-this-test' + Date.now() });
    expect(fromEnv.recorded!.key).toBe('sk-from-env');
    expect(fromEnv.recorded!.home).toMatch(/^\/tmp\/never-used-by-this-test/);
    temp.push(fromEnv.recorded!.home);
    expect(readFileSync(join(fromEnv.recorded!.home, 'config.toml'), 'utf8')).toContain('base_url = "http://localhost:8000/v1"');
  });

  it('refuses ~/.codex as its private home', () => {
    const { result, recorded, home } = start(['sk-x', 'exec', 'hi'], { LLMPROXY_CODEX_HOME: '$HOME/.codex' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('must not be your own ~/.codex');
    expect(recorded).toBeUndefined();
    expect(readFileSync(join(home, '.codex', 'config.toml'), 'utf8')).toBe('model = "gpt-5"\n');
  });
});
