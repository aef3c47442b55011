/**
 * GPU mode of the scripted Ollama: a simulated GPU with a few slots, a token rate and model swaps,
 * so the gateway's scheduling can be measured (bench/gpu.mjs) and tested.
 *
 * What it models (Ollama's scheduler, server/sched.go, simplified):
 *  - `slots` requests generate at once (Ollama's OLLAMA_NUM_PARALLEL). The slots belong to the server
 *    and are shared by every loaded model; with `maxLoadedModels` 1 (the default, as on a GPU that
 *    holds one model) that is the same as Ollama's per-model parallelism.
 *  - Every other inference request waits in ONE first-come-first-served queue, strictly in order: the
 *    head of the queue is served when a slot is free and its model is loaded or can be loaded; the
 *    ones behind it wait even if they could run (Ollama handles pending requests one after another).
 *  - A model can be loaded when fewer than `maxLoadedModels` are, or when the least recently used
 *    loaded model has nothing running (it is then unloaded). Loading takes `swapDelayMs`; requests of
 *    a model being loaded wait for the load to finish. A request for a loaded model pays nothing.
 *  - After admission, `promptDelayMs` (prompt evaluation) before the first token, then one token every
 *    1000 / `tokensPerSecond` ms, on an absolute schedule (no drift). A streamed answer writes one
 *    chunk per token; a non-streamed one arrives whole after the same time.
 *  - The slot is held until the response has ended (or the client went away); a client that leaves
 *    while queued leaves the queue.
 *  - When nothing is queued or scripted, the answer is `answerTokens` word tokens.
 *  - `/api/ps` lists the loaded models, most recently used first; `GET /__gpu` (GPU mode only) the
 *    counters below, for the benchmark.
 * Embeddings and load/unload requests do not take a slot.
 */
import type { ServerResponse } from 'node:http';
import type { ReplyScript } from './fake-ollama.js';

export interface GpuOptions {
  /** Requests generating at once (default 2). */
  slots?: number;
  /** Tokens per second per slot (default 40). */
  tokensPerSecond?: number;
  /** Tokens of the default answer (default 200). */
  answerTokens?: number;
  /** Time to the first token once a slot is taken and the model is loaded (default 0). */
  promptDelayMs?: number;
  /** Time to load a model that is not loaded (default 0). */
  swapDelayMs?: number;
  /** Models held at once (default 1); the least recently used idle one is unloaded. */
  maxLoadedModels?: number;
  /** expires_at in /api/ps: last use + this (default 5 min, Ollama's keep_alive). */
  keepAliveMs?: number;
}

export interface GpuStats {
  slots: number;
  /** Requests holding a slot now. */
  active: number;
  /** Requests waiting for a slot now. */
  queued: number;
  maxActive: number;
  maxQueued: number;
  /** Requests that got a slot. */
  admitted: number;
  /** Model loads that cost `swapDelayMs` (the first load of a model included). */
  loads: number;
  /** Loads that unloaded another model first. */
  swaps: number;
  /** Tokens written or accumulated by GPU-paced generations. */
  tokens: number;
  loaded: string[];
}

/** What GpuSim needs of an exchange (fake-ollama's Exchange satisfies it). */
export interface GpuExchange {
  readonly closed: boolean;
  readonly res: ServerResponse;
  sleep(ms: number): Promise<void>;
}

interface LoadedModel {
  name: string;
  lastUsed: number;
  readyAt: number;
  running: number;
}

interface Waiter {
  model: string;
  admit: () => void;
}

const ANSWER_WORDS =
  'The quick brown fox jumps over the lazy dog while a patient scheduler hands out every free slot fairly across keys'.split(' ');

export class GpuSim {
  readonly slots: number;
  readonly tokensPerSecond: number;
  readonly answerTokens: number;
  readonly promptDelayMs: number;
  readonly swapDelayMs: number;
  readonly maxLoadedModels: number;
  readonly keepAliveMs: number;
  /** Default reply: `answerTokens` word tokens. */
  readonly defaultReply: ReplyScript;

  private readonly models = new Map<string, LoadedModel>();
  private readonly queue: Waiter[] = [];
  private active = 0;
  private readonly counters = { maxActive: 0, maxQueued: 0, admitted: 0, loads: 0, swaps: 0, tokens: 0 };

  constructor(options: GpuOptions = {}) {
    this.slots = positive(options.slots, 2, 'slots');
    this.tokensPerSecond = positive(options.tokensPerSecond, 40, 'tokensPerSecond');
    this.answerTokens = positive(options.answerTokens, 200, 'answerTokens');
    this.promptDelayMs = nonNegative(options.promptDelayMs, 0, 'promptDelayMs');
    this.swapDelayMs = nonNegative(options.swapDelayMs, 0, 'swapDelayMs');
    this.maxLoadedModels = positive(options.maxLoadedModels, 1, 'maxLoadedModels');
    this.keepAliveMs = nonNegative(options.keepAliveMs, 5 * 60_000, 'keepAliveMs');
    this.defaultReply = { tokens: Array.from({ length: this.answerTokens }, (_, i) => (i === 0 ? '' : ' ') + ANSWER_WORDS[i % ANSWER_WORDS.length]) };
  }

  /**
   * Waits first come first served for a slot and for `model` to be loaded (loading it when needed),
   * then `promptDelayMs`. Resolves true holding a slot, released when the response closes; false
   * when the client left first (nothing held).
   */
  async admit(ex: GpuExchange, model: string): Promise<boolean> {
    if (ex.closed) return false;
    let admitted = false;
    const waiter: Waiter = { model, admit: () => undefined };
    const turn = new Promise<void>((resolve) => {
      waiter.admit = () => {
        admitted = true;
        resolve();
      };
    });
    this.queue.push(waiter);
    this.counters.maxQueued = Math.max(this.counters.maxQueued, this.queue.length);
    const leave = () => {
      const i = this.queue.indexOf(waiter);
      if (i >= 0) {
        this.queue.splice(i, 1);
        this.pump();
      }
    };
    ex.res.once('close', leave);
    this.pump();
    await Promise.race([turn, new Promise<void>((resolve) => ex.res.once('close', () => resolve()))]);
    ex.res.off('close', leave);
    if (!admitted) return false;
    // A slot and the model are ours now; give them back when the exchange is over.
    const entry = this.models.get(model)!;
    ex.res.once('close', () => {
      this.active--;
      entry.running--;
      entry.lastUsed = Date.now();
      this.pump();
    });
    if (ex.closed) {
      // closed between admission and here: the 'close' listener above never fires
      this.active--;
      entry.running--;
      this.pump();
      return false;
    }
    await ex.sleep(entry.readyAt - Date.now());
    await ex.sleep(this.promptDelayMs);
    return !ex.closed;
  }

  /** Milliseconds to wait before the next token, on an absolute schedule from the first call. */
  pacer(): () => number {
    const interval = 1000 / this.tokensPerSecond;
    let start = 0;
    let n = 0;
    return () => {
      const now = performance.now();
      if (n === 0) start = now;
      n++;
      this.counters.tokens++;
      return Math.max(0, start + n * interval - now);
    };
  }

  /** Unloads `model` when nothing runs on it (keep_alive 0). */
  unload(model: string): void {
    const entry = this.models.get(model);
    if (entry && entry.running === 0) this.models.delete(model);
    this.pump();
  }

  /** [name, expires_at ms] of the loaded models (not still loading), most recently used first. */
  loaded(): [string, number][] {
    const now = Date.now();
    return [...this.models.values()]
      .filter((m) => m.readyAt <= now)
      .sort((a, b) => b.lastUsed - a.lastUsed)
      .map((m) => [m.name, (m.running > 0 ? now : m.lastUsed) + this.keepAliveMs]);
  }

  stats(): GpuStats {
    return {
      slots: this.slots,
      active: this.active,
      queued: this.queue.length,
      ...this.counters,
      loaded: this.loaded().map(([name]) => name),
    };
  }

  /** Forgets idle loaded models and the counters (what runs keeps running). */
  reset(): void {
    for (const [name, m] of this.models) if (m.running === 0) this.models.delete(name);
    Object.assign(this.counters, { maxActive: this.active, maxQueued: this.queue.length, admitted: 0, loads: 0, swaps: 0, tokens: 0 });
  }

  /** Admits from the head of the queue while it can be served. */
  private pump(): void {
    while (this.queue.length > 0 && this.active < this.slots) {
      const head = this.queue[0]!;
      const now = Date.now();
      let entry = this.models.get(head.model);
      if (!entry) {
        if (this.models.size >= this.maxLoadedModels) {
          const idle = [...this.models.values()].filter((m) => m.running === 0).sort((a, b) => a.lastUsed - b.lastUsed)[0];
          if (!idle) return; // every loaded model is busy: the head (and all behind it) waits
          this.models.delete(idle.name);
          this.counters.swaps++;
        }
        entry = { name: head.model, lastUsed: now, readyAt: now + this.swapDelayMs, running: 0 };
        this.models.set(head.model, entry);
        this.counters.loads++;
      }
      this.queue.shift();
      entry.running++;
      entry.lastUsed = now;
      this.active++;
      this.counters.admitted++;
      this.counters.maxActive = Math.max(this.counters.maxActive, this.active);
      head.admit();
    }
  }
}

function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!(Number.isFinite(v) && v > 0)) throw new Error(`gpu.${name} must be a positive number, got ${v}`);
  return v;
}

function nonNegative(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!(Number.isFinite(v) && v >= 0)) throw new Error(`gpu.${name} must be a number >= 0, got ${v}`);
  return v;
}
