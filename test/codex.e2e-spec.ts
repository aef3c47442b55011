/**
 * The real client: OpenAI's Codex CLI (`@openai/codex`, pinned in package.json; a native binary shipped
 * through npm) started by scripts/start_codex.sh against the gateway and the scripted Ollama. `codex exec`
 * answers a prompt; in a tool round trip the scripted model calls Codex's shell tool (`exec_command`,
 * `{"cmd": …}` in 0.169.0), Codex runs the command itself, sends its output back, and prints the answer.
 * HOME and CODEX_HOME are temporary: nothing of the user's own ~/.codex is read or written.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODELS, startFakeOllama, type FakeOllama, type RecordedRequest } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

const [sqlite] = await testDatabases();

const SCRIPT = fileURLToPath(new URL('../scripts/start_codex.sh', import.meta.url));
const BIN = fileURLToPath(new URL('../node_modules/.bin', import.meta.url));
const PINNED_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> })
  .devDependencies['@openai/codex'];
const MODEL = 'qwen3-coder:30b';
const RUN_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = RUN_TIMEOUT_MS + 10_000;

interface OllamaChatBody {
  messages: { role: string; content: string; tool_calls?: { id?: string; function: { name: string; arguments: unknown } }[]; tool_call_id?: string }[];
  tools?: { function: { name: string } }[];
  options?: { num_ctx?: number; num_predict?: number };
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('Codex CLI (codex exec) through the gateway', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let key: string;
  const temp: string[] = [];
  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    temp.push(dir);
    return dir;
  };

  /** start_codex.sh with the key as its argument, a fresh HOME, CODEX_HOME and cwd, stdin closed, a deadline. */
  const codex = (args: string[], cwd = tempDir('llmproxy-codex-cwd-')): Promise<CliRun> => {
    const home = tempDir('llmproxy-codex-home-');
    const child = spawn(SCRIPT, ['-u', gateway.proxyUrl, '-m', MODEL, key, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: `${BIN}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: home, LLMPROXY_CODEX_HOME: join(home, 'codex-home'), RUST_LOG: 'error' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    return new Promise<CliRun>((done, fail) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
      child.on('error', (error) => {
        clearTimeout(timer);
        fail(error);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr });
      });
    });
  };
  const chats = () => upstream.requests.filter((r: RecordedRequest) => r.path === '/api/chat');

  beforeAll(async () => {
    upstream = await startFakeOllama({ models: [...DEFAULT_MODELS, { name: MODEL, capabilities: ['completion', 'tools'] }] });
    gateway = await startTestGateway(await sqlite.create(), upstream.url);
    key = (await gateway.createKey({ name: 'codex' })).key;
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await sqlite.dropAll();
    for (const dir of temp) rmSync(dir, { recursive: true, force: true });
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
