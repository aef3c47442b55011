/**
 * Scripted Ollama-compatible upstream for e2e tests and benchmarks (plain node:http, no deps).
 *
 * Wire format follows ollama/ollama (server/routes.go, api/types.go, docs/api.md): NDJSON streaming
 * with `Content-Type: application/x-ndjson`, Go field order, `omitempty` metrics (a zero count is
 * absent), Go's HTML-safe JSON escaping (`<` `>` `&` as \u003c \u003e \u0026), `{"error":"..."}`
 * error bodies and Ollama's own error wording.
 *
 * TOKEN ACCOUNTING (deterministic, so tests can compute expectations):
 *  - Prompt: `prompt_eval_count = countPromptTokens(body)` = the number of whitespace-separated
 *    words over every text field of the request (chat: each `messages[].content`; generate:
 *    `system`, `prompt`, `suffix`; embed: every `input` string; legacy embeddings: `prompt`),
 *    minimum 1. Omitted when the script says `omitPromptEvalCount` or `omitCounts`.
 *  - Output: every streamed thinking chunk and every content chunk is exactly one token, and each
 *    scripted tool call is one token (all calls travel in one chunk, as Ollama sends them).
 *    `eval_count` = thinking tokens + content tokens + tool calls actually emitted. A count of 0
 *    is absent (Go `omitempty`), as is any count under `omitCounts`.
 *  - `options.num_predict` caps that total when its integer part is > 0 (as Ollama: 0, fractions
 *    below 1 and negatives mean no limit): thinking first, then content, then tool calls;
 *    when it cuts anything off, `done_reason` is "length" (otherwise "stop").
 *  - Thinking chunks are emitted only when the model has the `thinking` capability and the request
 *    does not say `think: false` (Ollama turns thinking on by default for capable models).
 *
 * CHUNK POSITIONS: `midStreamError.afterChunks`, `dieAfterChunks` and `holdAfterChunks` count the
 * non-final chunks already written (thinking, content and the tool-call chunk), clamped to their
 * number, so a value >= that number acts just before the final `done:true` chunk. At one position a
 * hold happens first, then a mid-stream error, then a socket kill. Like Ollama, headers go out with
 * the first chunk: an error at position 0 becomes a plain 500 JSON reply, a kill at position 0 ends
 * the connection without any response. In non-streaming mode the same positions apply to the
 * simulated generation: the error is a 500 JSON reply, the kill drops the socket with no response.
 *
 * SCRIPTS: `enqueue()` feeds a FIFO consumed by inference requests (/api/chat, /api/generate,
 * /api/embed and legacy /api/embeddings) once they pass Ollama's own validation (bad JSON, missing
 * or unknown model, capability errors do not consume a script) and are not load/unload requests
 * (empty messages/prompt). With an empty queue `options.defaultReply` (or the built-in default) is
 * used. A queued script replaces the default reply entirely (no merging). A responder set with
 * `respondWith(fn)` is asked before the default, with the parsed request body: the scripted model
 * can then answer by what it was sent (an agent's loop of tool calls, a summarisation request), as a
 * real model does; it returns undefined to leave the request to the default reply.
 *
 * `options.promptTokens(body)` replaces the word count of `prompt_eval_count` (TOKEN ACCOUNTING)
 * with the caller's tokenizer, for clients that steer by the count Ollama reports: real Ollama counts
 * every token of the rendered prompt, tool definitions included, and an agent that compacts its
 * conversation near the window reads that number.
 *
 * GPU MODE (`options.gpu`, test/upstream/gpu.ts): slots, a token rate, a prompt delay and model swaps,
 * with a first-come-first-served queue inside the fake, as Ollama queues beyond OLLAMA_NUM_PARALLEL.
 * Off by default; nothing above changes when it is off.
 */
import http, { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash, randomInt } from 'node:crypto';
import {
  DEFAULT_MODELS,
  fullyQualifiedName,
  normalizeModelName,
  psEntry,
  resolveModel,
  showResponse,
  tagsEntry,
  type FakeModel,
  type ResolvedModel,
} from './catalogue.js';
import { GpuSim, type GpuOptions } from './gpu.js';

export { GpuSim, type GpuOptions, type GpuStats } from './gpu.js';
export { DEFAULT_MODELS, normalizeModelName, type Capability, type FakeModel } from './catalogue.js';

export const FAKE_OLLAMA_VERSION = '0.12.3';
/** Built-in reply when nothing is queued: "Hello there! How can I help you?" (8 tokens). */
export const DEFAULT_TOKENS: readonly string[] = ['Hello', ' there', '!', ' How', ' can', ' I', ' help', ' you?'];
export const DEFAULT_EMBEDDING_DIMENSIONS = 8;

export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface ReplyScript {
  /** Content tokens, one per chunk. Default: DEFAULT_TOKENS (unless `text` or `toolCalls` is given). */
  tokens?: string[];
  /** Split into word tokens (`"a b"` -> `["a", " b"]`); ignored when `tokens` is given. */
  text?: string;
  /** Thinking tokens, emitted as `message.thinking` (generate: `thinking`) chunks before content. */
  thinking?: string[];
  /** Emitted after the content as one chunk with `content: ""` and `tool_calls`. */
  toolCalls?: ScriptedToolCall[];
  /** Delay between consecutive chunks (also before the final chunk). Default 0. */
  chunkDelayMs?: number;
  /** Delay before anything is sent (and, for non-streaming replies, before generation starts). */
  delayBeforeHeadersMs?: number;
  /** Answer at once with this status and `{"error": error}`. */
  status?: number;
  error?: string;
  /** Cached prompt: `prompt_eval_count` absent from the final chunk. */
  omitPromptEvalCount?: boolean;
  /** `prompt_eval_count` and `eval_count` both absent. */
  omitCounts?: boolean;
  /** After N chunks send `{"error":"..."}` as an NDJSON line (status 200 already sent) and end. */
  midStreamError?: { afterChunks: number; error: string };
  /** After N chunks destroy the socket: no final chunk, no clean end of the chunked body. */
  dieAfterChunks?: number;
  /** After N chunks wait for `release()` (or the client going away). */
  holdAfterChunks?: number;
  /** Read the request and never answer. */
  hang?: boolean;
  /** Silence before the tool-call chunk (Ollama's parser buffers a long tool call before emitting it). */
  pauseBeforeToolCallsMs?: number;
  /** Streaming: end the body cleanly after the last chunk without the final `done: true` chunk. */
  endWithoutDone?: boolean;
  /** Write every NDJSON line in two TCP writes, split inside a multibyte character when possible. */
  splitWrites?: boolean;
}

export interface FakeOllamaOptions {
  port?: number;
  host?: string;
  models?: FakeModel[];
  defaultReply?: ReplyScript;
  version?: string;
  embeddingDimensions?: number;
  /** `prompt_eval_count` of a request (default: `countPromptTokens`, a word count). */
  promptTokens?: (body: Record<string, unknown>) => number;
  /** GPU mode (test/upstream/gpu.ts): slots, a token rate, model swaps. Off when absent. */
  gpu?: GpuOptions;
}

/** Picks the reply to an inference request from its parsed body; undefined: the default reply. */
export type Responder = (body: Record<string, unknown>, path: string) => ReplyScript | undefined;

export type RequestOutcome = 'completed' | 'aborted' | 'killed';

export interface RecordedRequest {
  /** 1-based arrival order. */
  id: number;
  method: string;
  /** Path including the query string. */
  path: string;
  /** Node's lower-cased header map. */
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when empty / not JSON. */
  body: unknown;
  rawBody: string;
  receivedAt: number;
  /** True once the client closed the connection before the response ended. */
  aborted: boolean;
  /**
   * Resolves when the exchange is over: 'completed' (response ended), 'aborted' (client left
   * first) or 'killed' (the fake dropped the socket: dieAfterChunks, or close()). Non-enumerable.
   */
  readonly settled: Promise<RequestOutcome>;
}

/** The user-agent of the gateway's upstream polls (libs/upstreams UpstreamPool). */
export const POLL_AGENT = 'llmproxy-upstream-poll';

export interface FakeOllama {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** The gateway's catalogue polls (GET /api/tags, /api/ps with user-agent POLL_AGENT), not in `requests`. */
  readonly polls: RecordedRequest[];
  /** Exchanges whose response has not ended yet (streams in progress, held, hanging). */
  readonly inFlight: number;
  /** Streams currently waiting in `holdAfterChunks`. */
  readonly heldCount: number;
  /** The simulated GPU in GPU mode (`options.gpu`), else undefined. */
  readonly gpu: GpuSim | undefined;
  enqueue(...scripts: ReplyScript[]): void;
  /** Answers inference requests the queue leaves unanswered by `responder` (until reset()). */
  respondWith(responder: Responder | undefined): void;
  /** Resumes every stream currently held by `holdAfterChunks`; returns how many. */
  release(): number;
  /** Resolves once at least one stream is held (immediately if one already is). */
  waitForHold(timeoutMs?: number): Promise<void>;
  /**
   * Resolves with the earliest recorded request that matches `predicate` and has not been handed
   * out by an earlier `waitForRequest` call; if there is none yet, with the next matching request
   * to arrive. Each request is handed out at most once, so successive calls walk through matching
   * requests in arrival order. Requests are recorded when their body has been read completely.
   * Rejects after `timeoutMs` (default 5000).
   */
  waitForRequest(predicate?: (r: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  /** Clears recorded requests, the script queue, the responder, the hand-out cursor and the /api/ps list. */
  reset(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Deterministic helpers (exported for tests)

function words(text: unknown): number {
  if (typeof text !== 'string') return 0;
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/).length;
}

/** Prompt token count the fake reports (see TOKEN ACCOUNTING above). */
export function countPromptTokens(body: unknown): number {
  if (!isObject(body)) return 1;
  let total = 0;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) if (isObject(m)) total += words(m.content);
  }
  total += words(body.system) + words(body.prompt) + words(body.suffix);
  if (typeof body.input === 'string') total += words(body.input);
  else if (Array.isArray(body.input)) for (const s of body.input) total += words(s);
  return Math.max(1, total);
}

/** Splits text into word tokens whose concatenation is the text: "a b  c" -> ["a", " b", "  c"]. */
export function splitIntoTokens(text: string): string[] {
  const tokens: string[] = text.match(/\s*\S+/g) ?? [];
  const trailing = /\s+$/.exec(text)?.[0] ?? '';
  if (trailing && tokens.length > 0) tokens[tokens.length - 1] += trailing;
  else if (trailing) tokens.push(trailing);
  return tokens;
}

/** Deterministic unit-length embedding of `text`. */
export function fakeEmbedding(text: string, dimensions = DEFAULT_EMBEDDING_DIMENSIONS): number[] {
  const values: number[] = [];
  for (let block = 0; values.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}\u0000${text}`).digest();
    for (let i = 0; i + 4 <= digest.length && values.length < dimensions; i += 4) {
      values.push(digest.readUInt32BE(i) / 0xffffffff - 0.5);
    }
  }
  return normalize(values);
}

function normalize(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => Math.fround(x / norm));
}

/** `call_` + 8 random [a-z0-9], like Ollama's toolCallId(). */
export function toolCallId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let id = 'call_';
  for (let i = 0; i < 8; i++) id += alphabet[randomInt(alphabet.length)];
  return id;
}

// ---------------------------------------------------------------------------------------------
// Wire helpers

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON as Go's encoding/json writes it (HTML-safe escaping). */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

/** RFC 3339 with nanoseconds, trailing zeros trimmed, as Go marshals time.Time in UTC. */
function goTime(date = new Date()): string {
  const iso = date.toISOString();
  const extra = (process.hrtime.bigint() % 1_000_000n).toString().padStart(6, '0');
  const frac = (iso.slice(20, 23) + extra).replace(/0+$/, '');
  return iso.slice(0, 19) + (frac ? '.' + frac : '') + 'Z';
}

function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

class Exchange {
  closed = false;
  killed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly wakers = new Set<() => void>();

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  /** Resolves after `ms`, or at once when the exchange closes; callers re-check `closed`. */
  sleep(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.timers.add(timer);
      this.wakers.add(wake);
    });
  }

  /** A promise the exchange resolves when it closes; `register` receives the resolver. */
  park(register: (wake: () => void) => void): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.wakers.delete(wake);
        resolve();
      };
      this.wakers.add(wake);
      register(wake);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of [...this.wakers]) w();
    this.wakers.clear();
  }

  kill(): void {
    this.killed = true;
    this.req.socket.destroy();
    this.close();
  }

  sendJson(status: number, body: unknown): void {
    if (this.closed) return;
    const text = goJson(body);
    this.res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    this.res.end(text);
  }

  sendError(status: number, message: string): void {
    this.sendJson(status, { error: message });
  }

  sendText(status: number, text: string): void {
    if (this.closed) return;
    this.res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
    });
    this.res.end(text);
  }

  sendEmpty(status: number): void {
    if (this.closed) return;
    this.res.writeHead(status, { 'Content-Length': 0 });
    this.res.end();
  }

  /** Writes one NDJSON line (headers go out with the first one). */
  async writeLine(value: unknown, split: boolean): Promise<void> {
    if (this.closed) return;
    if (!this.res.headersSent) {
      this.res.statusCode = 200;
      this.res.setHeader('Content-Type', 'application/x-ndjson');
    }
    const bytes = Buffer.from(goJson(value) + '\n', 'utf8');
    if (!split || bytes.length < 2) return this.writeRaw(bytes);
    let cut = bytes.findIndex((b) => b >= 0xc0); // lead byte of a multibyte character
    cut = cut >= 0 ? cut + 1 : Math.floor(bytes.length / 2);
    await this.writeRaw(bytes.subarray(0, cut));
    await this.sleep(2); // let the first half leave as its own TCP segment / HTTP chunk
    if (this.closed) return;
    await this.writeRaw(bytes.subarray(cut));
  }

  /** res.write, resolved once the bytes are handed to the OS (or the exchange closes). */
  private writeRaw(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.wakers.delete(done);
        resolve();
      };
      this.wakers.add(done);
      this.res.write(bytes, () => done());
    });
  }
}

interface ReadBody {
  text: string;
  complete: boolean;
}

function readBody(req: IncomingMessage): Promise<ReadBody> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (complete: boolean) => {
      if (done) return;
      done = true;
      resolve({ text: Buffer.concat(chunks).toString('utf8'), complete });
    };
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => finish(true));
    req.on('error', () => finish(false));
    req.on('close', () => finish(req.complete));
  });
}

type Parsed = { ok: true; body: Record<string, unknown> } | { ok: false };

// ---------------------------------------------------------------------------------------------

interface Step {
  kind: 'thinking' | 'content' | 'tools';
  text?: string;
  calls?: ScriptedToolCall[];
}

interface Plan {
  steps: Step[];
  evalCount: number;
  doneReason: 'stop' | 'length';
}

function plan(script: ReplyScript, thinkingOn: boolean, numPredict: number | undefined): Plan {
  const thinking = thinkingOn ? (script.thinking ?? []) : [];
  const content =
    script.tokens ??
    (script.text !== undefined ? splitIntoTokens(script.text) : script.toolCalls ? [] : [...DEFAULT_TOKENS]);
  const calls = script.toolCalls ?? [];
  // Ollama truncates num_predict to an integer and stops only when it is > 0: 0, 0.5 and negatives
  // (-1 unlimited, -2 fill the context) generate without limit.
  const truncated = numPredict === undefined ? 0 : Math.trunc(numPredict);
  let budget = truncated > 0 ? truncated : Infinity;
  const wanted = thinking.length + content.length + calls.length;
  const steps: Step[] = [];
  let evalCount = 0;
  for (const t of thinking) {
    if (budget <= 0) break;
    steps.push({ kind: 'thinking', text: t });
    budget--;
    evalCount++;
  }
  for (const t of content) {
    if (budget <= 0) break;
    steps.push({ kind: 'content', text: t });
    budget--;
    evalCount++;
  }
  const emittedCalls = calls.slice(0, Math.max(0, Math.min(calls.length, budget)));
  if (emittedCalls.length > 0) {
    steps.push({ kind: 'tools', calls: emittedCalls });
    evalCount += emittedCalls.length;
  }
  return { steps, evalCount, doneReason: evalCount < wanted ? 'length' : 'stop' };
}

function clampPosition(n: number | undefined, max: number): number | undefined {
  if (n === undefined || !Number.isFinite(n)) return undefined;
  return Math.min(Math.max(0, Math.floor(n)), max);
}

const KNOWN_ROUTES: Record<string, string[]> = {
  '/': ['GET', 'HEAD'],
  '/api/version': ['GET', 'HEAD'],
  '/api/tags': ['GET', 'HEAD'],
  '/api/ps': ['GET'],
  '/api/show': ['POST'],
  '/api/chat': ['POST'],
  '/api/generate': ['POST'],
  '/api/embed': ['POST'],
  '/api/embeddings': ['POST'],
  '/api/pull': ['POST'],
  '/api/push': ['POST'],
  '/api/create': ['POST'],
  '/api/copy': ['POST'],
  '/api/delete': ['DELETE'],
};

const GO_TYPES: Record<string, string> = {
  '/api/chat': 'api.ChatRequest',
  '/api/generate': 'api.GenerateRequest',
  '/api/embed': 'api.EmbedRequest',
  '/api/embeddings': 'api.EmbeddingRequest',
  '/api/show': 'api.ShowRequest',
  '/api/pull': 'api.PullRequest',
  '/api/push': 'api.PushRequest',
  '/api/create': 'api.CreateRequest',
  '/api/copy': 'api.CopyRequest',
  '/api/delete': 'api.DeleteRequest',
};

export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const version = options.version ?? FAKE_OLLAMA_VERSION;
  const dims = options.embeddingDimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
  const catalogue = (options.models ?? [...DEFAULT_MODELS]).map(resolveModel);
  const requests: RecordedRequest[] = [];
  const polls: RecordedRequest[] = [];
  const queue: ReplyScript[] = [];
  const sockets = new Set<Socket>();
  const exchanges = new Set<Exchange>();
  const held = new Set<() => void>();
  const holdWatchers = new Set<() => void>();
  const loaded = new Map<string, number>(); // model name -> expiry (ms)
  let handedOut = new WeakSet<RecordedRequest>();
  const settlers = new WeakMap<RecordedRequest, (o: RequestOutcome) => void>();
  let waiters: {
    predicate: (r: RecordedRequest) => boolean;
    resolve: (r: RecordedRequest) => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
  }[] = [];
  let nextId = 1;
  let closing = false;
  const gpu = options.gpu ? new GpuSim(options.gpu) : undefined;

  const findModel = (name: string): ResolvedModel | undefined => {
    const wanted = normalizeModelName(name);
    return catalogue.find((m) => m.name === wanted);
  };

  let responder: Responder | undefined;
  const nextScript = (body: Record<string, unknown>, path: string): ReplyScript =>
    queue.shift() ?? responder?.(body, path) ?? options.defaultReply ?? gpu?.defaultReply ?? {};
  const promptTokensOf = (body: Record<string, unknown>): number => (options.promptTokens ? Math.max(1, options.promptTokens(body)) : countPromptTokens(body));

  const record = (req: IncomingMessage, raw: string): RecordedRequest => {
    let body: unknown;
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
    }
    let settle!: (o: RequestOutcome) => void;
    const settled = new Promise<RequestOutcome>((resolve) => (settle = resolve));
    const rec = {
      id: nextId++,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: { ...req.headers },
      body,
      rawBody: raw,
      receivedAt: Date.now(),
      aborted: false,
    } as RecordedRequest;
    Object.defineProperty(rec, 'settled', { value: settled, enumerable: false });
    settlers.set(rec, settle);
    // The gateway's periodic catalogue polls (libs/upstreams UpstreamPool, user-agent
    // llmproxy-upstream-poll) are answered like any request but kept apart from what the tests inspect.
    if (String(req.headers['user-agent'] ?? '').startsWith(POLL_AGENT)) polls.push(rec);
    else requests.push(rec);
    for (const w of waiters) {
      if (!handedOut.has(rec) && w.predicate(rec)) {
        handedOut.add(rec);
        clearTimeout(w.timer);
        waiters = waiters.filter((x) => x !== w);
        w.resolve(rec);
        break;
      }
    }
    return rec;
  };

  const settleRecord = (rec: RecordedRequest, outcome: RequestOutcome) => {
    settlers.get(rec)?.(outcome);
    settlers.delete(rec);
  };

  /** Parses the JSON body of `path`, answering 400 like gin's ShouldBindJSON on failure. */
  const parseBody = (ex: Exchange, path: string, raw: string): Parsed => {
    if (raw.trim() === '') {
      ex.sendError(400, 'missing request body');
      return { ok: false };
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      ex.sendError(400, /end of JSON input|Unterminated/i.test(msg) ? 'unexpected EOF' : `invalid character in JSON: ${msg}`);
      return { ok: false };
    }
    if (!isObject(value)) {
      ex.sendError(400, `json: cannot unmarshal ${jsonTypeName(value)} into Go value of type ${GO_TYPES[path] ?? 'struct'}`);
      return { ok: false };
    }
    return { ok: true, body: value };
  };

  const fieldTypeError = (ex: Exchange, path: string, field: string, value: unknown, goType: string) => {
    const struct = (GO_TYPES[path] ?? 'api.Request').replace('api.', '');
    ex.sendError(400, `json: cannot unmarshal ${jsonTypeName(value)} into Go struct field ${struct}.${field} of type ${goType}`);
  };

  const markLoaded = (m: ResolvedModel) => loaded.set(m.name, Date.now() + 5 * 60_000);

  const wantsUnload = (keepAlive: unknown) => keepAlive === 0 || keepAlive === '0' || keepAlive === '0s' || keepAlive === '0m';

  const holdStream = async (ex: Exchange): Promise<void> => {
    let release: (() => void) | undefined;
    await ex.park((wake) => {
      release = wake;
      held.add(wake);
      for (const w of [...holdWatchers]) w();
    });
    if (release) held.delete(release); // released, or the exchange closed while held
  };

  // -------------------------------------------------------------------------------------------
  // Inference

  /** Shared preamble of scripted replies: status errors, hang, header delay. Returns false if done. */
  const prelude = async (ex: Exchange, script: ReplyScript): Promise<boolean> => {
    if (script.status !== undefined || script.error !== undefined) {
      await ex.sleep(script.delayBeforeHeadersMs ?? 0);
      const status = script.status ?? 500;
      ex.sendError(status, script.error ?? (STATUS_CODES[status] ?? 'error').toLowerCase());
      return false;
    }
    if (script.hang) {
      await ex.park(() => undefined);
      return false;
    }
    await ex.sleep(script.delayBeforeHeadersMs ?? 0);
    return !ex.closed;
  };

  const runGeneration = async (
    ex: Exchange,
    kind: 'chat' | 'generate',
    body: Record<string, unknown>,
    model: ResolvedModel,
    thinkingOn: boolean,
    startedAt: bigint,
  ): Promise<void> => {
    const script = nextScript(body, kind === 'chat' ? '/api/chat' : '/api/generate');
    markLoaded(model);
    if (!(await prelude(ex, script))) return;
    if (gpu && !(await gpu.admit(ex, model.name))) return; // GPU mode: a slot, the model loaded, the prompt

    const opts = isObject(body.options) ? body.options : {};
    const numPredict = typeof opts.num_predict === 'number' ? opts.num_predict : undefined;
    const { steps, evalCount, doneReason } = plan(script, thinkingOn, numPredict);
    const stream = body.stream !== false;
    const modelName = body.model as string;
    const split = script.splitWrites === true;
    const delay = script.chunkDelayMs ?? 0;
    const pace = gpu && script.chunkDelayMs === undefined ? gpu.pacer() : () => delay;
    const n = steps.length;
    const holdAt = clampPosition(script.holdAfterChunks, n);
    const dieAt = clampPosition(script.dieAfterChunks, n);
    const errorAt = script.midStreamError ? clampPosition(script.midStreamError.afterChunks, n) : undefined;
    const promptCount = promptTokensOf(body);
    const loadedAt = process.hrtime.bigint();

    const toolCallsJson = (calls: ScriptedToolCall[], offset: number) =>
      calls.map((c, i) => ({ id: toolCallId(), function: { index: offset + i, name: c.name, arguments: c.arguments } }));

    const chunkFor = (step: Step, callOffset: number): Record<string, unknown> => {
      const createdAt = goTime();
      if (kind === 'chat') {
        const message: Record<string, unknown> = { role: 'assistant', content: step.kind === 'content' ? step.text : '' };
        if (step.kind === 'thinking') message.thinking = step.text;
        if (step.kind === 'tools') message.tool_calls = toolCallsJson(step.calls ?? [], callOffset);
        return { model: modelName, created_at: createdAt, message, done: false };
      }
      const chunk: Record<string, unknown> = {
        model: modelName,
        created_at: createdAt,
        response: step.kind === 'content' ? step.text : '',
      };
      if (step.kind === 'thinking') chunk.thinking = step.text;
      chunk.done = false;
      if (step.kind === 'tools') chunk.tool_calls = toolCallsJson(step.calls ?? [], callOffset);
      return chunk;
    };

    const metrics = (): Record<string, number> => {
      const now = process.hrtime.bigint();
      const loadDuration = Math.max(1, Number(loadedAt - startedAt));
      const promptEvalDuration = 20_000 * promptCount + 1_000_000;
      const evalDuration = Math.max(1, Number(now - loadedAt), 1_000_000 * evalCount);
      const total = Math.max(Number(now - startedAt), loadDuration + promptEvalDuration + evalDuration);
      const m: Record<string, number> = { total_duration: total, load_duration: loadDuration };
      if (!script.omitCounts && !script.omitPromptEvalCount) m.prompt_eval_count = promptCount;
      m.prompt_eval_duration = promptEvalDuration;
      if (!script.omitCounts && evalCount > 0) m.eval_count = evalCount;
      m.eval_duration = evalDuration;
      return m;
    };

    const finalChunk = (content: string, thinking: string, calls: ScriptedToolCall[]): Record<string, unknown> => {
      const createdAt = goTime();
      if (kind === 'chat') {
        const message: Record<string, unknown> = { role: 'assistant', content };
        if (thinking) message.thinking = thinking;
        if (calls.length > 0) message.tool_calls = toolCallsJson(calls, 0);
        return { model: modelName, created_at: createdAt, message, done: true, done_reason: doneReason, ...metrics() };
      }
      const out: Record<string, unknown> = { model: modelName, created_at: createdAt, response: content };
      if (thinking) out.thinking = thinking;
      out.done = true;
      out.done_reason = doneReason;
      out.context = Array.from({ length: promptCount + evalCount }, (_, i) => 1000 + i);
      if (calls.length > 0) out.tool_calls = toolCallsJson(calls, 0);
      return { ...out, ...metrics() };
    };

    let content = '';
    let thinking = '';
    const calls: ScriptedToolCall[] = [];
    let callOffset = 0;
    for (let pos = 0; pos <= n; pos++) {
      if (holdAt === pos) {
        await holdStream(ex);
        if (ex.closed) return;
      }
      if (errorAt === pos && script.midStreamError) {
        if (!stream || !ex.res.headersSent) ex.sendError(500, script.midStreamError.error);
        else {
          await ex.writeLine({ error: script.midStreamError.error }, split);
          if (!ex.closed) ex.res.end();
        }
        return;
      }
      if (dieAt === pos) {
        ex.kill();
        return;
      }
      if (pos === n) break;
      if (pos > 0) {
        await ex.sleep(pace());
        if (ex.closed) return;
      }
      const step = steps[pos]!;
      if (step.kind === 'tools' && script.pauseBeforeToolCallsMs) {
        await ex.sleep(script.pauseBeforeToolCallsMs);
        if (ex.closed) return;
      }
      if (stream) {
        await ex.writeLine(chunkFor(step, callOffset), split);
        if (ex.closed) return;
      } else if (step.kind === 'content') content += step.text ?? '';
      else if (step.kind === 'thinking') thinking += step.text ?? '';
      else calls.push(...(step.calls ?? []));
      if (step.kind === 'tools') callOffset += step.calls?.length ?? 0;
    }
    if (n > 0) {
      await ex.sleep(pace());
      if (ex.closed) return;
    }
    if (stream && script.endWithoutDone) {
      ex.res.end();
    } else if (stream) {
      await ex.writeLine(finalChunk('', '', []), split);
      if (!ex.closed) ex.res.end();
    } else {
      ex.sendJson(200, finalChunk(content, thinking, calls));
    }
  };

  const checkModel = (ex: Exchange, body: Record<string, unknown>, path: string): ResolvedModel | undefined => {
    const name = body.model;
    if (name !== undefined && name !== null && typeof name !== 'string') {
      fieldTypeError(ex, path, 'model', name, 'string');
      return undefined;
    }
    if (typeof name !== 'string' || name.trim() === '') {
      ex.sendError(400, 'model is required');
      return undefined;
    }
    const model = findModel(name);
    if (!model) {
      // Current Ollama (routes.go) for /api/chat, /api/generate and /api/embed; the legacy
      // /api/embeddings goes through handleScheduleError, which still says "try pulling it first".
      ex.sendError(
        404,
        path === '/api/embeddings' ? `model ${JSON.stringify(name)} not found, try pulling it first` : `model '${name}' not found`,
      );
    }
    return model;
  };

  const checkStream = (ex: Exchange, body: Record<string, unknown>, path: string): boolean => {
    if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
      fieldTypeError(ex, path, 'stream', body.stream, 'bool');
      return false;
    }
    return true;
  };

  /** Thinking rules of Chat/GenerateHandler. Returns undefined after answering 400. */
  const thinkingFor = (ex: Exchange, body: Record<string, unknown>, model: ResolvedModel): boolean | undefined => {
    const think = body.think;
    const canThink = model.capabilities.includes('thinking');
    const wants = think === undefined || think === null ? canThink : think === true || (typeof think === 'string' && think !== '');
    if (wants && !canThink) {
      ex.sendError(400, `${JSON.stringify(body.model)} does not support thinking`);
      return undefined;
    }
    return canThink && wants;
  };

  const handleChat = async (ex: Exchange, raw: string, startedAt: bigint): Promise<void> => {
    const path = '/api/chat';
    const parsed = parseBody(ex, path, raw);
    if (!parsed.ok) return;
    const body = parsed.body;
    if (!checkStream(ex, body, path)) return;
    if (body.messages !== undefined && body.messages !== null && !Array.isArray(body.messages)) {
      fieldTypeError(ex, path, 'messages', body.messages, '[]api.Message');
      return;
    }
    const model = checkModel(ex, body, path);
    if (!model) return;
    const messages = Array.isArray(body.messages) ? body.messages : [];
    if (messages.length === 0 && wantsUnload(body.keep_alive)) {
      loaded.delete(model.name);
      gpu?.unload(model.name);
      ex.sendJson(200, {
        model: body.model,
        created_at: goTime(),
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'unload',
      });
      return;
    }
    const thinkingOn = thinkingFor(ex, body, model);
    if (thinkingOn === undefined) return;
    if (!model.capabilities.includes('completion')) {
      ex.sendError(400, `${JSON.stringify(body.model)} does not support chat`);
      return;
    }
    if (Array.isArray(body.tools) && body.tools.length > 0 && !model.capabilities.includes('tools')) {
      ex.sendError(400, `${fullyQualifiedName(model)} does not support tools`);
      return;
    }
    if (messages.length === 0) {
      markLoaded(model);
      ex.sendJson(200, {
        model: body.model,
        created_at: goTime(),
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'load',
      });
      return;
    }
    await runGeneration(ex, 'chat', body, model, thinkingOn, startedAt);
  };

  const handleGenerate = async (ex: Exchange, raw: string, startedAt: bigint): Promise<void> => {
    const path = '/api/generate';
    const parsed = parseBody(ex, path, raw);
    if (!parsed.ok) return;
    const body = parsed.body;
    if (!checkStream(ex, body, path)) return;
    if (body.prompt !== undefined && body.prompt !== null && typeof body.prompt !== 'string') {
      fieldTypeError(ex, path, 'prompt', body.prompt, 'string');
      return;
    }
    const model = checkModel(ex, body, path);
    if (!model) return;
    const prompt = typeof body.prompt === 'string' ? body.prompt : '';
    if (prompt === '' && wantsUnload(body.keep_alive)) {
      loaded.delete(model.name);
      gpu?.unload(model.name);
      ex.sendJson(200, { model: body.model, created_at: goTime(), response: '', done: true, done_reason: 'unload' });
      return;
    }
    if (body.raw === true && (body.template || body.system || (Array.isArray(body.context) && body.context.length > 0))) {
      ex.sendError(400, 'raw mode does not support template, system, or context');
      return;
    }
    const thinkingOn = thinkingFor(ex, body, model);
    if (thinkingOn === undefined) return;
    if (!model.capabilities.includes('completion')) {
      ex.sendError(400, `${JSON.stringify(body.model)} does not support generate`);
      return;
    }
    if (prompt === '') {
      markLoaded(model);
      ex.sendJson(200, { model: body.model, created_at: goTime(), response: '', done: true, done_reason: 'load' });
      return;
    }
    await runGeneration(ex, 'generate', body, model, thinkingOn, startedAt);
  };

  const handleEmbed = async (ex: Exchange, raw: string, legacy: boolean, startedAt: bigint): Promise<void> => {
    const path = legacy ? '/api/embeddings' : '/api/embed';
    const parsed = parseBody(ex, path, raw);
    if (!parsed.ok) return;
    const body = parsed.body;
    let inputs: string[] = [];
    if (!legacy) {
      const input = body.input;
      if (typeof input === 'string') inputs = input === '' ? [] : [input];
      else if (Array.isArray(input)) {
        if (!input.every((s): s is string => typeof s === 'string')) {
          ex.sendError(400, 'invalid input type');
          return;
        }
        inputs = input;
      } else if (input !== undefined && input !== null) {
        ex.sendError(400, 'invalid input type');
        return;
      }
    } else if (body.prompt !== undefined && body.prompt !== null && typeof body.prompt !== 'string') {
      fieldTypeError(ex, path, 'prompt', body.prompt, 'string');
      return;
    }
    const model = checkModel(ex, body, path);
    if (!model) return;
    const prompt = typeof body.prompt === 'string' ? body.prompt : '';
    if ((legacy && prompt === '') || (!legacy && inputs.length === 0)) {
      markLoaded(model);
      ex.sendJson(200, legacy ? { embedding: [] } : { model: body.model, embeddings: [] });
      return;
    }
    const script = nextScript(body, path);
    markLoaded(model);
    if (!(await prelude(ex, script))) return;
    if (script.dieAfterChunks !== undefined) {
      ex.kill();
      return;
    }
    if (script.holdAfterChunks !== undefined) {
      await holdStream(ex);
      if (ex.closed) return;
    }
    if (script.midStreamError) {
      ex.sendError(500, script.midStreamError.error);
      return;
    }
    if (legacy) {
      ex.sendJson(200, { embedding: fakeEmbedding(prompt, dims) });
      return;
    }
    const wantDims = typeof body.dimensions === 'number' && body.dimensions > 0 && body.dimensions < dims ? body.dimensions : dims;
    // /api/embed carries float32 (Go prints ~8 significant digits); legacy /api/embeddings float64.
    const embeddings = inputs.map((text) => {
      const full = fakeEmbedding(text, dims);
      return (wantDims < dims ? normalize(full.slice(0, wantDims)) : full).map((x) => Number(x.toPrecision(8)));
    });
    const loadDuration = 1_000_000;
    const out: Record<string, unknown> = {
      model: body.model,
      embeddings,
      total_duration: Math.max(Number(process.hrtime.bigint() - startedAt), loadDuration + 1),
      load_duration: loadDuration,
    };
    if (!script.omitCounts && !script.omitPromptEvalCount) out.prompt_eval_count = promptTokensOf(body);
    ex.sendJson(200, out);
  };

  // -------------------------------------------------------------------------------------------
  // Catalogue and model management

  const handleShow = (ex: Exchange, raw: string) => {
    const parsed = parseBody(ex, '/api/show', raw);
    if (!parsed.ok) return;
    const body = parsed.body;
    const name = typeof body.model === 'string' && body.model !== '' ? body.model : typeof body.name === 'string' ? body.name : '';
    if (name === '') return ex.sendError(400, 'model is required');
    const model = findModel(name);
    if (!model) return ex.sendError(404, `model '${normalizeModelName(name)}' not found`);
    ex.sendJson(200, showResponse(model));
  };

  const progress = async (ex: Exchange, body: Record<string, unknown>, statuses: Record<string, unknown>[]) => {
    if (body.stream === false) return ex.sendJson(200, { status: 'success' });
    for (const s of statuses) {
      await ex.writeLine(s, false);
      if (ex.closed) return;
    }
    ex.res.end();
  };

  const handleManagement = async (ex: Exchange, path: string, raw: string) => {
    const parsed = parseBody(ex, path, raw);
    if (!parsed.ok) return;
    const body = parsed.body;
    const name = typeof body.model === 'string' && body.model !== '' ? body.model : typeof body.name === 'string' ? body.name : '';
    const digest = 'sha256:' + createHash('sha256').update(name).digest('hex');
    switch (path) {
      case '/api/pull':
        if (name === '') return ex.sendError(400, 'model is required');
        return progress(ex, body, [
          { status: 'pulling manifest' },
          { status: `pulling ${digest.slice(7, 19)}`, digest, total: 2019377376 },
          { status: `pulling ${digest.slice(7, 19)}`, digest, total: 2019377376, completed: 2019377376 },
          { status: 'verifying sha256 digest' },
          { status: 'writing manifest' },
          { status: 'success' },
        ]);
      case '/api/push':
        if (name === '') return ex.sendError(400, 'model is required');
        return progress(ex, body, [
          { status: 'retrieving manifest' },
          { status: 'starting upload', digest, total: 1928429856 },
          { status: 'pushing manifest' },
          { status: 'success' },
        ]);
      case '/api/create':
        if (name === '') return ex.sendError(400, 'model is required');
        return progress(ex, body, [
          { status: 'reading model metadata' },
          { status: `using existing layer ${digest}` },
          { status: 'writing manifest' },
          { status: 'success' },
        ]);
      case '/api/copy': {
        const source = typeof body.source === 'string' ? body.source : '';
        if (!findModel(source)) return ex.sendError(404, `model ${JSON.stringify(source)} not found`);
        return ex.sendEmpty(200);
      }
      case '/api/delete':
        if (!findModel(name)) return ex.sendError(404, `model '${name}' not found`);
        return ex.sendEmpty(200);
    }
  };

  // -------------------------------------------------------------------------------------------

  const route = async (ex: Exchange, method: string, pathname: string, raw: string, startedAt: bigint) => {
    const blob = /^\/api\/blobs\/([^/]+)$/.exec(pathname);
    if (blob) {
      if (method === 'HEAD') return ex.sendEmpty(200);
      if (method === 'POST') return ex.sendEmpty(201);
      return ex.sendText(405, '405 method not allowed');
    }
    const allowed = KNOWN_ROUTES[pathname];
    if (gpu && pathname === '/__gpu' && method === 'GET') return ex.sendJson(200, gpu.stats()); // GPU mode's counters
    if (!allowed) return ex.sendText(404, '404 page not found');
    if (!allowed.includes(method)) return ex.sendText(405, '405 method not allowed');
    switch (pathname) {
      case '/':
        return ex.sendText(200, 'Ollama is running');
      case '/api/version':
        return ex.sendJson(200, { version });
      case '/api/tags':
        return ex.sendJson(200, { models: catalogue.map(tagsEntry) });
      case '/api/ps': {
        const now = Date.now();
        const models = (gpu ? gpu.loaded() : [...loaded.entries()])
          .filter(([, exp]) => exp > now)
          .sort((a, b) => b[1] - a[1])
          .flatMap(([name, exp]) => {
            const m = catalogue.find((c) => c.name === name);
            return m ? [psEntry(m, goTime(new Date(exp)))] : [];
          });
        return ex.sendJson(200, { models });
      }
      case '/api/show':
        return handleShow(ex, raw);
      case '/api/chat':
        return handleChat(ex, raw, startedAt);
      case '/api/generate':
        return handleGenerate(ex, raw, startedAt);
      case '/api/embed':
        return handleEmbed(ex, raw, false, startedAt);
      case '/api/embeddings':
        return handleEmbed(ex, raw, true, startedAt);
      default:
        return handleManagement(ex, pathname, raw);
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = process.hrtime.bigint();
    req.socket.setNoDelay(true);
    const ex = new Exchange(req, res);
    exchanges.add(ex);
    let rec: RecordedRequest | undefined;
    res.on('close', () => {
      const finished = res.writableFinished;
      exchanges.delete(ex);
      if (rec) {
        if (finished) settleRecord(rec, 'completed');
        else if (ex.killed || closing) settleRecord(rec, 'killed');
        else {
          rec.aborted = true;
          settleRecord(rec, 'aborted');
        }
      }
      ex.close();
    });
    void (async () => {
      const { text } = await readBody(req);
      rec = record(req, text);
      if (ex.closed) {
        // client left while uploading: res 'close' already fired before the record existed
        if (!res.writableFinished && !ex.killed && !closing) rec.aborted = true;
        settleRecord(rec, rec.aborted ? 'aborted' : 'killed');
        return;
      }
      const method = (req.method ?? 'GET').toUpperCase();
      const pathname = (req.url ?? '/').split('?')[0] ?? '/';
      await route(ex, method, pathname, text, startedAt);
    })().catch((err: unknown) => {
      if (ex.closed) return;
      if (!res.headersSent) ex.sendError(500, err instanceof Error ? err.message : String(err));
      else ex.kill();
    });
  };

  const server = http.createServer(onRequest);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const fake: FakeOllama = {
    url: `http://${host}:${address.port}`,
    port: address.port,
    requests,
    polls,
    get inFlight() {
      return exchanges.size;
    },
    get heldCount() {
      return held.size;
    },
    gpu,
    enqueue(...scripts: ReplyScript[]) {
      queue.push(...scripts);
    },
    respondWith(next: Responder | undefined) {
      responder = next;
    },
    release() {
      const all = [...held];
      held.clear();
      for (const r of all) r();
      return all.length;
    },
    waitForHold(timeoutMs = 5000) {
      if (held.size > 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          holdWatchers.delete(done);
          resolve();
        };
        const timer = setTimeout(() => {
          holdWatchers.delete(done);
          reject(new Error(`fake-ollama: no stream held within ${timeoutMs} ms`));
        }, timeoutMs);
        holdWatchers.add(done);
      });
    },
    waitForRequest(predicate = () => true, timeoutMs = 5000) {
      const found = requests.find((r) => !handedOut.has(r) && predicate(r));
      if (found) {
        handedOut.add(found);
        return Promise.resolve(found);
      }
      return new Promise<RecordedRequest>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w.timer !== timer);
          const seen = requests.map((r) => `${r.method} ${r.path}`).join(', ') || 'none';
          reject(new Error(`fake-ollama: no matching request within ${timeoutMs} ms (recorded: ${seen})`));
        }, timeoutMs);
        waiters.push({ predicate, resolve, reject, timer });
      });
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      responder = undefined;
      loaded.clear();
      gpu?.reset();
      handedOut = new WeakSet();
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new Error('fake-ollama: closed'));
      }
      waiters = [];
      for (const ex of [...exchanges]) {
        ex.killed = true;
        ex.close();
      }
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
  return fake;
}
