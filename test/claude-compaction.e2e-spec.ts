/**
 * Context windows the agents respect (issue 14, part 2), with the real client: the Claude Code CLI
 * (pinned, node_modules/.bin/claude) started by scripts/start_claude.sh, in print mode, against the
 * gateway and the scripted Ollama, on a small num_ctx.
 *
 * The scripted model reads one big file after another with Claude Code's Read tool, so the
 * conversation outgrows the window within one `claude -p` run. Claude Code compacts it — it sends
 * its summarisation request ("Your task is to create a detailed summary of the conversation so
 * far", with "CRITICAL: Respond with TEXT ONLY") and goes on from the summary — instead of failing
 * or having Ollama silently drop the oldest messages:
 *  - proactively, before the gateway would refuse anything, because start_claude.sh told it the
 *    window the gateway reports (CLAUDE_CODE_AUTO_COMPACT_WINDOW and what goes with it);
 *  - reactively, when it reckons with a larger window (a user's own CLAUDE_CODE_AUTO_COMPACT_WINDOW,
 *    which the script leaves alone): the gateway answers 400 `prompt is too long: N tokens > M
 *    maximum`, and Claude Code compacts and retries.
 *
 * The scripted Ollama reports prompt_eval_count as a tokenizer would (cl100k over everything the
 * model reads, tool definitions included), as real Ollama does: Claude Code steers by that number.
 * PATH holds no `claude`: the script finds the one installed with the project.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { estimatePromptTokens } from '@llmproxy/metering';
import { startFakeOllama, type FakeOllama, type RecordedRequest, type ReplyScript } from './upstream/fake-ollama.js';
import { CLAUDE_CODE_TEST_ENV, claudeCodeHome, cliTempDirs, runCli, type CliRun } from './support/cli-run.js';
import { testDatabases } from './support/databases.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { startRecordingForwarder, type RecordingForwarder } from './support/recording-forwarder.js';

const [sqlite] = await testDatabases();

const START_CLAUDE = fileURLToPath(new URL('../scripts/start_claude.sh', import.meta.url));
const PROJECT_CLAUDE = fileURLToPath(new URL('../node_modules/.bin/claude', import.meta.url));
const PINNED_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> })
  .devDependencies['@anthropic-ai/claude-code'];

/** The gateway's num_ctx: Claude Code's own first request (76 KB, ~15,000 tokens) fits; a few files later the conversation does not. */
const NUM_CTX = 65_536;
/** What Claude Code compacts at for that window: the window minus 20,000 kept for the summary, minus its 13,000 buffer. */
const COMPACT_AT = NUM_CTX - 20_000 - 13_000;
/** Lines of each file the scripted model reads, one a turn: about 6,000 tokens as Read returns them. */
const FILE_LINES = 250;
const RUN_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = RUN_TIMEOUT_MS + 15_000;
/** Claude Code's compaction prompt (cli.js of 2.1.197), full and partial variants. */
const SUMMARY_REQUEST = /Your task is to create a detailed summary of (the conversation so far|this conversation|the RECENT portion)/;

interface OllamaChatBody {
  model: string;
  messages: { role: string; content: string; tool_calls?: { function: { name: string; arguments: Record<string, unknown> } }[] }[];
  tools?: { function: { name: string } }[];
}

/** PATH without any directory holding a `claude` (npx puts node_modules/.bin on it). */
function pathWithoutClaude(): string {
  return (process.env.PATH ?? '/usr/bin:/bin')
    .split(delimiter)
    .filter((dir) => dir !== '' && !existsSync(join(dir, 'claude')))
    .join(delimiter);
}

const isSummaryRequest = (body: OllamaChatBody) => {
  const last = body.messages.at(-1);
  return last?.role === 'user' && SUMMARY_REQUEST.test(last.content);
};
const hasTool = (body: OllamaChatBody, name: string) => (body.tools ?? []).some((t) => t.function.name === name);

describe('Claude Code compacts a conversation that outgrows the gateway context window (start_claude.sh, print mode)', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let forwarder: RecordingForwarder;
  let key: string;
  const temp = cliTempDirs({ realpath: true });

  /** Runs scripts/start_claude.sh with a fresh HOME and cwd, a PATH without `claude`, stdin closed, a deadline. */
  const startClaude = (args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliRun> => {
    const home = claudeCodeHome(temp, cwd);
    return runCli('bash', [START_CLAUDE, '--url', forwarder.url, key, ...args], {
      cwd,
      timeoutMs: RUN_TIMEOUT_MS,
      env: {
        PATH: pathWithoutClaude(),
        HOME: home,
        CLAUDE_CODE_TMPDIR: home,
        ...CLAUDE_CODE_TEST_ENV,
        ...env,
      },
    });
  };

  const chats = () => upstream.requests.filter((r) => r.path === '/api/chat').map((r) => r as RecordedRequest & { body: OllamaChatBody });
  const messagesExchanges = () => forwarder.seen.filter((s) => s.method === 'POST' && /^\/v1\/messages(\?|$)/.test(s.path));
  const describeRun = (run: CliRun) =>
    `exit ${run.code} signal ${run.signal}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}\n--- seen\n` +
    forwarder.seen.map((s) => `${s.method} ${s.path} -> ${s.status} (${s.body.length} bytes)${s.status === 200 ? '' : ` ${s.answer.slice(0, 200)}`}`).join('\n') +
    '\n--- ollama\n' +
    chats()
      .map((r) => `#${r.id} ${r.body.messages.length} messages, ~${estimatePromptTokens(r.body)} tokens${isSummaryRequest(r.body) ? ' SUMMARY REQUEST' : ''}`)
      .join('\n');

  /**
   * A session in `cwd`: `count` big files, each with a marker, and the scripted model that reads them
   * one a turn with Read, summarises when Claude Code asks for a summary, and then gives `final`.
   */
  const session = (cwd: string, count: number, final: string) => {
    const files = Array.from({ length: count }, (_, i) => {
      const file = join(cwd, `part-${i + 1}.txt`);
      const marker = `PART-${i + 1}-${Math.random().toString(36).slice(2, 10)}`;
      const line = (n: number) => `${marker} line ${n}: the river carries green stones past the old mill every spring`;
      writeFileSync(file, Array.from({ length: FILE_LINES }, (_, n) => line(n + 1)).join('\n') + '\n');
      return { file, marker };
    });
    let read = 0;
    let summaries = 0;
    const summaryMarker = `SUMMARY-${Math.random().toString(36).slice(2, 10)}`;
    upstream.respondWith((raw): ReplyScript | undefined => {
      const body = raw as unknown as OllamaChatBody;
      if (!Array.isArray(body.messages)) return undefined;
      if (isSummaryRequest(body)) {
        summaries++;
        return {
          text:
            `<analysis>The user asked for the parts to be read; ${read} of ${count} are read.</analysis>\n` +
            `<summary>${summaryMarker}\n1. Primary Request and Intent: read ${files.map((f) => f.file).join(', ')} in turn and report the markers.\n` +
            `7. Pending Tasks: read the parts after part ${read}.\n</summary>`,
        };
      }
      // The agent loop (it offers the tools); side requests get the default reply.
      if (!hasTool(body, 'Read')) return undefined;
      if (read < files.length) return { toolCalls: [{ name: 'Read', arguments: { file_path: files[read++]!.file } }] };
      return { text: final };
    });
    const prompt = `read ${files.map((f) => f.file).join(', ')} one after the other, then report their markers`;
    return { files, prompt, summaryMarker, summaries: () => summaries, read: () => read };
  };

  beforeAll(async () => {
    if (!existsSync(PROJECT_CLAUDE)) throw new Error(`Claude Code CLI not found at ${PROJECT_CLAUDE}: run \`npm ci\` (without --omit=optional)`);
    // Ollama counts every token of the rendered prompt: cl100k over what the model reads stands in for its tokenizer.
    upstream = await startFakeOllama({ promptTokens: (body) => estimatePromptTokens(body) });
    gateway = await startTestGateway(await sqlite!.create(), upstream.url, { DEFAULT_MODEL: 'llama3.2' });
    const saved = await gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify({ num_ctx: NUM_CTX }) });
    if (saved.status !== 200) throw new Error(`saving num_ctx answered ${saved.status}: ${await saved.text()}`);
    forwarder = await startRecordingForwarder(gateway.proxyUrl);
    ({ key } = await gateway.createKey({ name: 'claude-compaction' }));
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await forwarder?.close();
    await gateway?.close();
    await upstream?.close();
    await sqlite?.dropAll();
    temp.removeAll();
  });

  beforeEach(() => {
    upstream.reset();
    forwarder.seen.length = 0;
  });

  it('start_claude.sh runs the claude installed with the project when none is on PATH', async () => {
    const run = await startClaude(['--version'], temp.make('llmproxy-cc-cwd-'));
    if (run.code !== 0) throw new Error(describeRun(run));
    expect(run.stdout.trim()).toBe(`${PINNED_VERSION} (Claude Code)`);
    // And it asked the gateway for the window of the model Claude Code will use, with the key.
    // (claude-opus-4-8 is what 2.1.197 asks for by default; the next test checks it against what it sends.)
    const asked = forwarder.seen.find((s) => s.method === 'GET' && s.path.startsWith('/v1/models/'));
    expect(asked).toMatchObject({ path: '/v1/models/claude-opus-4-8', status: 200, headers: { authorization: `Bearer ${key}`, 'anthropic-version': expect.any(String) } });
    expect(JSON.parse(asked!.answer)).toMatchObject({ context_window: NUM_CTX });
    expect(run.stderr).toContain(`context window ${NUM_CTX} tokens`);
  }, TEST_TIMEOUT_MS);

  it('start_claude.sh warns, before Claude Code meets a 404, when the gateway serves no model for Claude Code’s name', async () => {
    const put = (body: Record<string, unknown>) => gateway.admin('/api/settings', { method: 'PUT', body: JSON.stringify(body) });
    expect((await put({ default_model: null })).status).toBe(200);
    try {
      const run = await startClaude(['--version'], temp.make('llmproxy-cc-cwd-'));
      if (run.code !== 0) throw new Error(describeRun(run));
      expect(run.stderr).toContain("the gateway serves no model for 'claude-opus-4-8' (Claude Code's main model)");
      expect(run.stderr).toContain('Set the default model in the admin UI (Settings) or DEFAULT_MODEL on the server, or pass -m');
    } finally {
      expect((await put({ default_model: 'llama3.2' })).status).toBe(200);
    }
    // With a default model again, no warning.
    const served = await startClaude(['--version'], temp.make('llmproxy-cc-cwd-'));
    expect(served.stderr).not.toContain('serves no model');
  }, TEST_TIMEOUT_MS);

  /** Ollama requests in order, with their size (cl100k over what the model reads) and kind. */
  const ollamaTurns = () => chats().map((r) => ({ id: r.id, body: r.body, tokens: estimatePromptTokens(r.body), summary: isSummaryRequest(r.body) }));

  // Claude Code's default model (a claude-* name it reckons with 1M tokens for: the script adds
  // CLAUDE_AUTOCOMPACT_PCT_OVERRIDE) and an Ollama name (CLAUDE_CODE_MAX_CONTEXT_TOKENS).
  it.each([
    { model: "Claude Code's default", args: [] as string[] },
    { model: 'an Ollama name (-m llama3.2)', args: ['-m', 'llama3.2'] },
  ])('compacts before the gateway would refuse anything, with the window start_claude.sh exported, and goes on to the final answer: $model', async ({ args }) => {
    const cwd = temp.make('llmproxy-cc-cwd-');
    const final = 'All 3 parts read through llmproxy, after a compaction.';
    // ~15,000 tokens of Claude Code's own, then ~6,000 a file: past COMPACT_AT after the third file,
    // far below what the gateway refuses (a prompt over NUM_CTX minus a quarter for the output).
    const { files, prompt, summaries, read, summaryMarker } = session(cwd, 3, final);
    const run = await startClaude([...args, '-p', prompt, '--allowedTools', 'Read'], cwd);
    const detail = describeRun(run);
    if (run.code !== 0 || !run.stdout.includes(final)) throw new Error(`expected exit 0 and the final answer, got ${detail}`);
    expect(read()).toBe(3);

    // Claude Code sent its summarisation request once the conversation passed COMPACT_AT ...
    expect(summaries()).toBe(1);
    const turns = ollamaTurns();
    const at = turns.findIndex((t) => t.summary);
    // (the turns before it were below that: it did not compact from the start), asking to summarise the files read so far ...
    const before = turns.slice(0, at).filter((t) => hasTool(t.body, 'Read'));
    expect(before).toHaveLength(3);
    expect(before.at(-1)!.tokens).toBeLessThan(COMPACT_AT);
    expect(JSON.stringify(turns[at]!.body.messages)).toContain(files[1]!.marker);
    // ... and went on from the summary: the next turn carries it and the third file (the newest tool result, kept
    // after the summary), is smaller than the last turn before the compaction, and was answered (the final answer).
    const after = turns.slice(at + 1).find((t) => hasTool(t.body, 'Read'));
    expect(after).toBeDefined();
    expect(after!.body.messages.some((m) => m.role === 'user' && m.content.includes(summaryMarker))).toBe(true);
    expect(JSON.stringify(after!.body.messages)).toContain(files[2]!.marker);
    expect(after!.tokens).toBeLessThan(before.at(-1)!.tokens);
    // The script asked the gateway about the very model Claude Code then asked for.
    const sent = new Set(messagesExchanges().map((e) => (JSON.parse(e.body) as { model: string }).model));
    const asked = forwarder.seen.filter((s) => s.method === 'GET' && s.path.startsWith('/v1/models/')).map((s) => decodeURIComponent(s.path.slice('/v1/models/'.length)));
    expect(asked).toEqual([...sent]);
    // The gateway never had to refuse: no "prompt is too long", no other error.
    for (const exchange of messagesExchanges()) expect({ path: exchange.path, status: exchange.status }).toEqual({ path: exchange.path, status: 200 });
  }, TEST_TIMEOUT_MS);

  it('compacts and retries when the gateway answers 400 "prompt is too long" (a window set by the user, which start_claude.sh leaves alone)', async () => {
    const cwd = temp.make('llmproxy-cc-cwd-');
    const final = 'All 6 parts read through llmproxy, after the gateway said the prompt was too long.';
    const { prompt, summaries, read, summaryMarker } = session(cwd, 6, final);
    // Claude Code then reckons with its own 1M-token window: it sends the grown conversation until the gateway refuses it.
    const run = await startClaude(['-p', prompt, '--allowedTools', 'Read'], cwd, { CLAUDE_CODE_AUTO_COMPACT_WINDOW: '1000000' });
    const detail = describeRun(run);
    if (run.code !== 0 || !run.stdout.includes(final)) throw new Error(`expected exit 0 and the final answer, got ${detail}`);
    expect(read()).toBe(6);
    // The script did not ask the gateway: the user's own setting stands.
    expect(forwarder.seen.some((s) => s.path.startsWith('/v1/models'))).toBe(false);

    const exchanges = messagesExchanges();
    const refused = exchanges.findIndex((s) => s.status === 400);
    expect(refused).toBeGreaterThanOrEqual(0);
    const error = JSON.parse(exchanges[refused]!.answer) as { type: string; error: { type: string; message: string } };
    expect(error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const [, tokens, maximum] = /^prompt is too long: (\d+) tokens > (\d+) maximum$/.exec(error.error.message) ?? [];
    expect(Number(maximum)).toBe(NUM_CTX);
    expect(Number(tokens)).toBeGreaterThan(NUM_CTX);
    // After the refusal: the summarisation request, then the conversation again from the summary, answered.
    expect(summaries()).toBeGreaterThanOrEqual(1);
    const afterRefusal = exchanges.slice(refused + 1);
    expect(afterRefusal.some((s) => s.status === 200 && SUMMARY_REQUEST.test(s.body))).toBe(true);
    const resumed = afterRefusal.find((s) => s.body.includes(summaryMarker) && !SUMMARY_REQUEST.test(s.body));
    expect(resumed?.status).toBe(200);
    expect(resumed!.body.length).toBeLessThan(exchanges[refused]!.body.length);
  }, TEST_TIMEOUT_MS);
});
