import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiKeyView } from '@llmproxy/keys';
import { startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

/**
 * The built artefacts started as a user starts them: `node dist/apps/gateway/src/main.js` and
 * `cli.js`, in a fresh working directory, with nothing in the environment but PATH, HOME and what
 * each case sets.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/apps/gateway/src/main.js');
const CLI = join(ROOT, 'dist/apps/gateway/src/cli.js');
for (const file of [MAIN, CLI]) {
  if (!existsSync(file)) throw new Error(`${file} does not exist: run \`npm run build\` first (scripts/test.sh does)`);
}

const PASSWORD = 'process-test-password-42';
const KEY_PATTERN = /^sk-[0-9A-Za-z]{43}$/;

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmproxy-process-'));
  dirs.push(dir);
  return dir;
}

function minimalEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...extra };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

const children = new Set<ChildProcess>();

function start(script: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [script, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

async function cli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  const run = start(CLI, args, cwd, minimalEnv(env));
  const exit = await within(run.exited, 10_000, `cli ${args.join(' ')}`);
  return { ...exit, stdout: run.stdout(), stderr: run.stderr() };
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

async function portFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/** Polls `url` until it answers (any status), failing early if the server process exits. */
async function waitForListener(server: Running, url: string, init: RequestInit = {}): Promise<void> {
  let exited: Exit | undefined;
  void server.exited.then((exit) => (exited = exit));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`server exited (${JSON.stringify(exited)}) before ${url} answered:\n${server.stderr()}${server.stdout()}`);
    try {
      await fetch(url, { ...init, signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within 15 s:\n${server.stderr()}${server.stdout()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function chat(baseUrl: string, key: string): Promise<Response> {
  return fetch(`${baseUrl}/api/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hello' }], stream: false }),
  });
}

let upstream: FakeOllama;

beforeAll(async () => {
  upstream = await startFakeOllama();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await upstream?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the server process (dist/apps/gateway/src/main.js)', () => {
  it('without ADMIN_PASSWORD: exits 1 with one line naming ADMIN_PASSWORD, before touching the disk', async () => {
    const cwd = tempDir();
    const server = start(MAIN, [], cwd, minimalEnv());
    const exit = await within(server.exited, 5_000, 'exiting without ADMIN_PASSWORD');
    expect(exit).toEqual({ code: 1, signal: null });
    expect(lines(server.stderr())).toHaveLength(1);
    expect(server.stderr()).toMatch(/^llmproxy: invalid configuration: ADMIN_PASSWORD /);
    expect(server.stdout()).toBe('');
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it.each([
    ['the environment', { PROXY_PORT: 'eighty' }, undefined],
    ['.env', {}, 'PROXY_PORT=65536\n'],
  ])('an invalid PROXY_PORT in %s: exits 1 with one line naming PROXY_PORT', async (_where, env, dotenv) => {
    const cwd = tempDir();
    if (dotenv) writeFileSync(join(cwd, '.env'), dotenv);
    const server = start(MAIN, [], cwd, minimalEnv({ ADMIN_PASSWORD: PASSWORD, ...env }));
    const exit = await within(server.exited, 5_000, 'exiting on an invalid PROXY_PORT');
    expect(exit).toEqual({ code: 1, signal: null });
    expect(lines(server.stderr())).toEqual([expect.stringMatching(/^llmproxy: invalid configuration: PROXY_PORT must be a port number$/)]);
  });

  describe('with only ADMIN_PASSWORD (and OLLAMA_URL) set, on the default ports 8000 and 8001', () => {
    let defaultPortsFree = true;
    beforeAll(async () => {
      defaultPortsFree = (await portFree(8000)) && (await portFree(8001));
      if (!defaultPortsFree) console.warn('SKIPPING the default-ports process test: port 8000 or 8001 is busy on this machine');
    });

    it('serves both ports, creates ./data/llmproxy.db and ./logs/usage.log, and exits 0 on SIGTERM, then on SIGINT', async () => {
      if (!defaultPortsFree) return;
      const cwd = tempDir();
      const env = minimalEnv({ ADMIN_PASSWORD: PASSWORD, OLLAMA_URL: upstream.url });
      const proxyUrl = 'http://127.0.0.1:8000';
      const adminUrl = 'http://127.0.0.1:8001';
      const adminHeaders = { authorization: `Bearer ${PASSWORD}`, 'content-type': 'application/json' };

      const first = start(MAIN, [], cwd, env);
      await waitForListener(first, `${proxyUrl}/`);
      await waitForListener(first, `${adminUrl}/api/api-keys`, { headers: adminHeaders });

      const root = await fetch(`${proxyUrl}/`);
      expect(root.status).toBe(200);
      expect(await root.text()).toBe('Ollama is running');
      const listed = await fetch(`${adminUrl}/api/api-keys`, { headers: adminHeaders });
      expect(listed.status).toBe(200);
      expect(await listed.json()).toEqual([]);
      expect(existsSync(join(cwd, 'data', 'llmproxy.db'))).toBe(true);

      const created = await fetch(`${adminUrl}/api/api-keys`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ name: 'alice' }) });
      expect(created.status).toBe(201);
      const { key } = (await created.json()) as { key: string };
      expect(key).toMatch(KEY_PATTERN);
      const answered = await chat(proxyUrl, key);
      expect(answered.status).toBe(200);
      expect(await answered.json()).toMatchObject({ done: true, message: { content: 'Hello there! How can I help you?' } });

      const usageLog = join(cwd, 'logs', 'usage.log');
      const record = await eventually(() => {
        const line = lines(readFileSync(usageLog, 'utf8')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.route === '/api/chat');
        if (!line) throw new Error('no usage record for /api/chat yet');
        return line;
      });
      expect(record).toMatchObject({ key_name: 'alice', status: 200, model: expect.stringMatching(/^llama3\.2/) });

      first.child.kill('SIGTERM');
      expect(await within(first.exited, 10_000, 'shutting down on SIGTERM')).toEqual({ code: 0, signal: null });

      // Started again on the same directory: the database and its key are still there; SIGINT stops it too.
      const second = start(MAIN, [], cwd, env);
      await waitForListener(second, `${proxyUrl}/`);
      await waitForListener(second, `${adminUrl}/api/api-keys`, { headers: adminHeaders });
      expect((await chat(proxyUrl, key)).status).toBe(200);
      second.child.kill('SIGINT');
      expect(await within(second.exited, 10_000, 'shutting down on SIGINT')).toEqual({ code: 0, signal: null });

      for (const output of [first.stdout(), first.stderr(), second.stdout(), second.stderr(), readFileSync(usageLog, 'utf8')]) {
        expect(output).not.toContain(key);
        expect(output).not.toContain(PASSWORD);
      }
    }, 30_000);
  });
});

describe('the key CLI (dist/apps/gateway/src/cli.js)', () => {
  it('prints the usage for --help and exits 0', async () => {
    const result = await cli(['--help'], tempDir());
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: /);
    expect(result.stdout).toContain('keys create --name <name>');
  });

  it.concurrent.each([
    [[], 'missing command'],
    [['keys'], 'missing keys command'],
    [['keys', 'frobnicate'], "unknown keys command 'frobnicate'"],
    [['keys', 'create'], '--name is required'],
    [['keys', 'create', '--nmae', 'alice'], "Unknown option '--nmae'"],
    [['keys', 'create', '--name', 'alice', '--daily-requests', 'five'], '--daily-requests must be an integer'],
    [['keys', 'create', '--name', 'alice', '--max-concurrent', '0'], '--max-concurrent must be an integer from 1'],
    [['keys', 'create', '--name', 'alice', '--expires', 'tomorrow'], '--expires must be an ISO 8601 date'],
    [['keys', 'create', '--name', 'alice', '--expires', '2020-01-01T00:00:00Z'], '--expires must be in the future'],
    [['keys', 'list', '--name', 'alice'], "option --name does not apply to 'keys list'"],
    [['keys', 'deactivate'], "'keys deactivate' needs the key's id"],
    [['keys', 'deactivate', 'abc'], "the id must be a positive integer, got 'abc'"],
    [['keys', 'delete', '1', '2'], "unexpected argument '2'"],
  ])('%j: one clear line, the usage, exit 2', async (args, message) => {
    const result = await cli(args, tempDir());
    expect(result.code).toBe(2);
    const [first, ...rest] = result.stderr.split('\n');
    expect(first).toMatch(/^llmproxy: /);
    expect(first).toContain(message);
    expect(rest.join('\n')).toContain('Usage: ');
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).toBe('');
  });

  it('reports an invalid configuration like the server, but does not need ADMIN_PASSWORD', async () => {
    const result = await cli(['keys', 'list'], tempDir(), { DATABASE_URL: 'mysql://localhost/llmproxy' });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^llmproxy: invalid configuration: DATABASE_URL /)]);
  });
});

const databases = await testDatabases();

describe.each(databases)('the key CLI end to end on $name', (database) => {
  let cwd: string;
  let databaseUrl: string;
  let gateway: TestGateway | undefined;

  beforeAll(async () => {
    cwd = tempDir();
    // The CLI reads .env from its working directory, as the server does; no ADMIN_PASSWORD in it.
    databaseUrl = await database.create();
    writeFileSync(join(cwd, '.env'), `DATABASE_URL=${databaseUrl}\nAPP_TZ=UTC\n`);
  });

  afterAll(async () => {
    await gateway?.close();
    await database.dropAll();
  });

  const listJson = async (): Promise<ApiKeyView[]> => {
    const result = await cli(['keys', 'list', '--json'], cwd);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as ApiKeyView[];
  };

  it('creates, lists, deactivates, activates and deletes a key that works on a running server', async () => {
    const created = await cli(['keys', 'create', '--name', 'alice', '--daily-requests', '5'], cwd);
    expect(created).toMatchObject({ code: 0, stderr: expect.stringContaining('shown only once') });
    const key = created.stdout.trim();
    expect(key).toMatch(KEY_PATTERN);
    expect(created.stderr).toContain('shown only once');
    const hash = createHash('sha256').update(key).digest('hex');

    const [listed, table] = await Promise.all([listJson(), cli(['keys', 'list'], cwd)]);
    expect(listed).toEqual([
      expect.objectContaining({ name: 'alice', is_active: true, daily_request_limit: 5, monthly_request_limit: null, key_prefix: key.slice(0, 9) }),
    ]);
    const id = listed[0]!.id;
    // A second 'alice' (any letter case) is refused: names tell keys apart in every report.
    const twin = await cli(['keys', 'create', '--name', 'Alice'], cwd);
    expect(twin.code).toBe(1);
    expect(twin.stdout).toBe('');
    expect(lines(twin.stderr)).toEqual(["llmproxy: a key named 'Alice' already exists; key names must differ"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+alice\\s+${key.slice(0, 9)}…\\s+yes\\s+never\\s+all\\s+5 requests/day$`, 'm'));
    for (const output of [JSON.stringify(listed), table.stdout, table.stderr]) {
      expect(output).not.toContain(key);
      expect(output).not.toContain(hash);
      expect(output).not.toMatch(/hash/i);
    }

    gateway = await startTestGateway(databaseUrl, upstream.url);
    const tags = () => fetch(`${gateway!.proxyUrl}/api/tags`, { headers: { authorization: `Bearer ${key}` } });
    expect((await tags()).status).toBe(200);
    expect((await chat(gateway.proxyUrl, key)).status).toBe(200);

    const deactivated = await cli(['keys', 'deactivate', String(id)], cwd);
    expect(deactivated).toMatchObject({ code: 0, stdout: `API key ${id} 'alice' is now inactive.\n`, stderr: '' });
    const [afterDeactivation, refused] = await Promise.all([listJson(), tags()]);
    expect(afterDeactivation[0]).toMatchObject({ id, is_active: false });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'API key is deactivated' });

    const [activated, ...unknown] = await Promise.all(
      [['activate', String(id)], ...['deactivate', 'activate', 'delete'].map((command) => [command, '9999'])].map((args) => cli(['keys', ...args], cwd)),
    );
    expect(activated).toMatchObject({ code: 0, stderr: '' });
    expect((await tags()).status).toBe(200);
    for (const result of unknown) {
      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toEqual(['llmproxy: API key 9999 not found']);
    }

    const deleted = await cli(['keys', 'delete', String(id)], cwd);
    expect(deleted).toMatchObject({ code: 0, stdout: `API key ${id} 'alice' deleted.\n`, stderr: '' });
    expect(await listJson()).toEqual([]);
    expect((await tags()).status).toBe(401);
  });

  it('creates a key with every option; --json answers like the admin API', async () => {
    const result = await cli(
      ['keys', 'create', '--name', 'bob', '--expires', '2099-01-01', '--daily-tokens', '1000', '--monthly-tokens', '20000',
        '--monthly-requests', '300', '--models', 'llama3.2, qwen3:4b', '--max-concurrent', '2', '--json'],
      cwd,
    );
    expect(result).toMatchObject({ code: 0, stderr: expect.stringContaining('shown only once') });
    const created = JSON.parse(result.stdout) as ApiKeyView & { key: string };
    expect(created.key).toMatch(KEY_PATTERN);
    expect(created).toMatchObject({
      name: 'bob',
      is_active: true,
      expires_at: '2099-01-01T00:00:00.000Z', // midnight in APP_TZ=UTC
      allowed_models: ['llama3.2', 'qwen3:4b'],
      max_concurrent: 2,
      daily_token_limit: 1000,
      monthly_token_limit: 20000,
      daily_request_limit: null,
      monthly_request_limit: 300,
    });
    const listed = await listJson();
    expect(listed.find((k) => k.id === created.id)).toEqual(Object.fromEntries(Object.entries(created).filter(([field]) => field !== 'key')));
  });
});
