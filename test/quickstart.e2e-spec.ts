import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';

/**
 * The README's quick start, run exactly as written on a clean clone of this repository's HEAD
 * (commit first: uncommitted changes are not in the clone), against the scripted Ollama: installs,
 * builds, starts in the background, creates a key with the CLI, asks a question. Ports 8000 and 8001
 * must be free, as on a fresh machine; when they are not, the test is skipped unless
 * REQUIRE_QUICKSTART=1 (CI sets it).
 */
const README = readFileSync(join(process.cwd(), 'README.md'), 'utf8');

/** The shell lines between the quickstart markers, as a reader copies them. */
function quickStart(): string {
  const block = /<!-- quickstart:begin[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- quickstart:end -->/.exec(README);
  if (!block) throw new Error('README.md has no quick start between <!-- quickstart:begin --> and <!-- quickstart:end -->');
  return block[1]!;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

const portsFree = (await portFree(8000)) && (await portFree(8001));
if (!portsFree && process.env.REQUIRE_QUICKSTART === '1') throw new Error('REQUIRE_QUICKSTART=1 but port 8000 or 8001 is taken');
if (!portsFree) console.warn('SKIPPING the quick start test: port 8000 or 8001 is taken (the quick start uses the default ports)');
const describeQuickStart = portsFree ? describe : describe.skip;

describeQuickStart('the README quick start on a clean clone', () => {
  let fake: FakeOllama;
  let clone: string;

  beforeAll(async () => {
    fake = await startFakeOllama();
    clone = join(mkdtempSync(join(tmpdir(), 'llmproxy-quickstart-')), 'llmproxy');
    execFileSync('git', ['clone', '-q', process.cwd(), clone]);
  });

  afterAll(async () => {
    if (clone && existsSync(join(clone, 'llmproxy.pid'))) {
      try {
        execFileSync('bash', ['scripts/stop.sh'], { cwd: clone, stdio: 'ignore' });
      } catch {
        /* reported by the test */
      }
    }
    await fake?.close();
    if (clone) rmSync(join(clone, '..'), { recursive: true, force: true });
  });

  it('has at most five commands, and they go from the clone to a first answer', async () => {
    const lines = quickStart();
    // A command is a line that does not continue the one before it (a trailing backslash).
    let commands = 0;
    let continued = false;
    for (const line of lines.split('\n').filter((text) => text.trim() !== '')) {
      if (!continued) commands += 1;
      continued = line.trimEnd().endsWith('\\');
    }
    expect(commands).toBeGreaterThanOrEqual(3);
    expect(commands).toBeLessThanOrEqual(5);

    const run = spawn('bash', ['-eo', 'pipefail', '-c', lines], {
      cwd: clone,
      // What a fresh shell has, and where this machine's Ollama is (the scripted one here).
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), OLLAMA_URL: fake.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    run.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    run.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => run.on('close', resolve));
    if (code !== 0) throw new Error(`the quick start exited ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);

    // The last line's answer: Anthropic's shape, written by the default model (DEFAULT_MODEL).
    const answer = JSON.parse(stdout.slice(stdout.lastIndexOf('\n{') + 1)) as { type: string; content: { text: string }[] };
    expect(answer.type).toBe('message');
    expect(answer.content[0]!.text).toBe('Hello there! How can I help you?');
    const chats = fake.requests.filter((request) => request.path === '/api/chat');
    expect(chats).toHaveLength(1);
    expect((chats[0]!.body as { model: string }).model).toMatch(/^llama3\.2(:latest)?$/);
    expect(stdout).toMatch(/llmproxy is running \(pid \d+\): proxy http:\/\/127\.0\.0\.1:8000/);

    // And stop.sh stops what start.sh --background started.
    const pid = Number(readFileSync(join(clone, 'llmproxy.pid'), 'utf8'));
    expect(execFileSync('bash', ['scripts/stop.sh'], { cwd: clone }).toString()).toContain(`llmproxy (pid ${pid}) stopped`);
    expect(() => process.kill(pid, 0)).toThrow();
  }, 900_000);
});
