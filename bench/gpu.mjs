#!/usr/bin/env node
/**
 * Issue 15's GPU scenario (see bench/README.md, "GPU scenario"): scripted Ollamas in GPU mode
 * (test/upstream/gpu.ts: slots, a token rate, model swaps) straight and through llmproxy.
 *
 *   node bench/gpu.mjs [--smoke] [--scenarios fairness,scaling,affinity,failover] [--out bench/results]
 *
 * - fairness: one key keeps 40 requests in flight, four light keys send one request every 4 s (one a
 *   second in all); the light keys' time to first token on an idle server, first come first served
 *   straight to the scripted Ollama, and through the gateway.
 * - scaling: aggregate tokens/s with 1, 2 and 4 upstreams serving the same model.
 * - affinity: multi-turn conversations (x-claude-code-session-id on /v1/messages, `user` on
 *   /v1/chat/completions): share of turns served by the upstream of the conversation's first turn,
 *   from the usage log (each conversation its own key); and model swaps taken with two
 *   models on two upstreams, client-side round robin against the gateway.
 * - failover: one of three upstreams killed mid-run: client-visible errors of requests that had not
 *   started streaming, and what the streams cut on the dead one ended with.
 *
 * Needs dist/ (`npm run build`). Everything listens on 127.0.0.1. The scripted Ollama is compiled
 * from test/upstream/*.ts with @swc/core into a temp directory and run with node.
 * Reports figures, no pass/fail: exit 1 only when something does not start or no request succeeds.
 */
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createKey,
  fmt,
  freePort,
  GATEWAY_MAIN,
  LOAD_CORE,
  machine,
  quantile,
  ROOT,
  round,
  startGateway,
  startProcess,
  stopProcess,
  waitForHttp,
} from './run.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { smoke: false, scenarios: ['fairness', 'scaling', 'affinity', 'failover'], out: path.join(HERE, 'results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--smoke') o.smoke = true;
    else if (a === '--scenarios') o.scenarios = argv[++i].split(',');
    else if (a === '--out') o.out = path.resolve(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 22).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.smoke && !argv.includes('--scenarios')) o.scenarios = ['fairness', 'failover']; // ~15 s
  return o;
}
const opts = parseArgs(process.argv.slice(2));
const T0 = Date.now();
const log = (...a) => console.error(`[${((Date.now() - T0) / 1000).toFixed(1)}]`, ...a);

// The simulated GPU of every scripted Ollama here (the smoke run is faster and shorter).
const GPU = opts.smoke
  ? { slots: 2, tokensPerSecond: 200, answerTokens: 100, promptDelayMs: 50, swapDelayMs: 300 }
  : { slots: 2, tokensPerSecond: 40, answerTokens: 200, promptDelayMs: 250, swapDelayMs: 2000 };
// Fairness uses shorter answers so that a first-come-first-served queue of 40 drains inside the time box.
const FAIR_ANSWER = 25;
const MODEL_A = 'bench-a:latest';
const MODEL_B = 'bench-b:latest';
const MAX_TOKENS = 1024;

// ------------------------------------------------------------------------------------------------
// Scripted Ollamas

async function buildFake(tmp) {
  const { transformFileSync } = await import('@swc/core');
  const dir = path.join(tmp, 'fake-ollama');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(path.join(ROOT, 'test/upstream')).filter((f) => f.endsWith('.ts') && !f.includes('spec'))) {
    const { code } = transformFileSync(path.join(ROOT, 'test/upstream', f), {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: false,
    });
    fs.writeFileSync(path.join(dir, f.replace(/\.ts$/, '.js')), code);
  }
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  return path.join(dir, 'main.js');
}

let fakeCount = 0;
async function startFake(ctx, gpu = {}) {
  const g = { ...GPU, ...gpu };
  const name = `fake-${++fakeCount}`;
  const port = await freePort();
  const args = [ctx.fakeMain, '--port', String(port), '--models', [MODEL_A, MODEL_B].join(',')];
  for (const [flag, key] of [
    ['--slots', 'slots'],
    ['--tokens-per-second', 'tokensPerSecond'],
    ['--answer-tokens', 'answerTokens'],
    ['--prompt-delay-ms', 'promptDelayMs'],
    ['--swap-delay-ms', 'swapDelayMs'],
    ['--max-loaded-models', 'maxLoadedModels'],
  ]) {
    if (g[key] !== undefined) args.push(flag, String(g[key]));
  }
  const proc = startProcess(name, LOAD_CORE, process.execPath, args, { logFile: path.join(ctx.tmp, `${name}.log`) });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/api/version`, { proc, timeoutMs: 10_000 });
  ctx.procs.add(proc);
  return {
    name,
    url,
    gpu: g,
    proc,
    stats: async () => (await fetch(`${url}/__gpu`)).json(),
    kill: () => proc.child.kill('SIGKILL'),
    stop: async () => {
      freshAgent();
      await stopProcess(proc, 2000);
      ctx.procs.delete(proc);
    },
  };
}

/** llmproxy with these upstreams (OLLAMA_URLS; a gateway without several upstreams uses the first). */
async function startLlmproxy(ctx, label, fakes) {
  log(`${label}: starting`);
  const gw = await startGateway({
    label,
    tmp: ctx.tmp,
    upstreamUrls: fakes.map((f) => f.url),
    env: { UPSTREAM_POLL_S: '1', LOG_LEVEL: 'warn' },
  });
  ctx.procs.add(gw.proc);
  const admin = (p, init = {}) =>
    fetch(gw.adminUrl + p, { ...init, headers: { authorization: `Bearer ${gw.password}`, 'content-type': 'application/json', ...init.headers } });
  // The upstream list (issue 15): max_parallel = the GPU's slots, as an admin would set it; wait
  // until each upstream has been polled. Without it (before the scheduler), one upstream.
  gw.upstreams = null;
  gw.admin = admin;
  const listed = await admin('/api/upstreams');
  if (listed.status === 200) {
    for (const u of await listed.json()) {
      const fake = fakes.find((f) => f.url === u.url);
      if (fake) await admin(`/api/upstreams/${u.id}`, { method: 'PATCH', body: JSON.stringify({ max_parallel: fake.gpu.slots }) });
    }
    const deadline = Date.now() + 15_000;
    for (;;) {
      const list = await (await admin('/api/upstreams')).json();
      gw.upstreams = list;
      if (list.every((u) => u.status.health === 'up' && u.status.models.length > 0) || Date.now() > deadline) break;
      await sleep(200);
    }
  }
  log(`${label}: ready`);
  gw.upstreamsUsed = gw.upstreams ? gw.upstreams.filter((u) => u.enabled && u.status.health === 'up').length : 1;
  gw.nameOf = (url) => gw.upstreams?.find((u) => u.url === url)?.name;
  gw.key = (name, fields) => createKey(gw, { name, ...fields });
  gw.stopAll = async () => {
    freshAgent();
    await stopProcess(gw.proc, 3000); // SIGTERM, SIGKILL after 3 s: its graceful drain is not measured here
    ctx.procs.delete(gw.proc);
  };
  return gw;
}

// ------------------------------------------------------------------------------------------------
// One streamed request, read token by token

let agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
/** Closes the kept-alive connections (a server stopping waits for them) and starts a new pool. */
function freshAgent() {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
}

function bodyFor(kind, model, extra = {}) {
  const messages = extra.messages ?? [{ role: 'user', content: 'Tell me about scheduling on GPUs.' }];
  if (kind === 'anthropic') return { model, max_tokens: extra.maxTokens ?? MAX_TOKENS, stream: true, messages };
  if (kind === 'openai') return { model, max_tokens: extra.maxTokens ?? MAX_TOKENS, stream: true, messages, ...(extra.user ? { user: extra.user } : {}) };
  return { model, stream: true, messages, options: { num_predict: extra.maxTokens ?? MAX_TOKENS } };
}
const PATHS = { native: '/api/chat', anthropic: '/v1/messages', openai: '/v1/chat/completions' };

/**
 * Streams one chat. Resolves with status, time to the first token, tokens, how it ended:
 * `ok` (the dialect's end marker), `error` (no token yet: a non-200, a refused connection, an error
 * before the first token), `cut` (tokens, then an in-band error: `inBand` true, or the connection ends).
 */
function stream(base, { kind = 'native', model = MODEL_A, headers = {}, extra, onToken, stopSignal } = {}) {
  const u = new URL(base);
  const payload = Buffer.from(JSON.stringify(bodyFor(kind, model, extra)));
  const t0 = performance.now();
  const out = { status: 0, ttftMs: null, tokens: 0, end: 'error', inBand: false, upstream: null, detail: '', startedAt: t0, endedAt: 0 };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (end, detail = '') => {
      if (settled) return;
      settled = true;
      out.end = out.end === 'ok' ? 'ok' : end === 'error' && out.tokens > 0 ? 'cut' : end;
      if (detail) out.detail = detail;
      out.endedAt = performance.now();
      stopSignal?.removeEventListener('abort', abort);
      resolve(out);
    };
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: PATHS[kind],
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': payload.length, 'anthropic-version': '2023-06-01', ...headers },
      },
      (res) => {
        out.status = res.statusCode;
        out.upstream = res.headers['x-llmproxy-upstream'] ?? null;
        let buf = '';
        const token = () => {
          const now = performance.now();
          if (out.tokens === 0) out.ttftMs = now - t0;
          out.tokens++;
          onToken?.(now);
        };
        const inBand = (msg) => {
          out.inBand = true;
          out.detail = String(msg).slice(0, 160);
        };
        res.setEncoding('utf8');
        res.on('data', (d) => {
          buf += d;
          if (res.statusCode !== 200) return;
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            if (kind === 'native') {
              let v;
              try {
                v = JSON.parse(line);
              } catch {
                continue;
              }
              if (v.error) inBand(v.error);
              else if (v.done === false) token();
              else if (v.done === true) out.end = 'ok';
            } else if (line.startsWith('data:')) {
              const data = line.slice(5).trim();
              if (data === '[DONE]') {
                out.end = 'ok';
                continue;
              }
              let v;
              try {
                v = JSON.parse(data);
              } catch {
                continue;
              }
              if (kind === 'anthropic') {
                if (v.type === 'content_block_delta') token();
                else if (v.type === 'message_stop') out.end = 'ok';
                else if (v.type === 'error') inBand(v.error?.message ?? JSON.stringify(v));
              } else if (v.error) inBand(v.error.message ?? JSON.stringify(v.error));
              else if (v.choices?.[0]?.delta?.content) token();
            }
          }
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return finish('error', `HTTP ${res.statusCode} ${buf.slice(0, 160)}`);
          if (out.inBand) return finish('error');
          finish(out.end === 'ok' ? 'ok' : 'error', out.end === 'ok' ? '' : 'ended without the end marker');
        });
        res.on('error', (e) => finish('error', e.message));
        res.on('close', () => finish('error', 'connection cut'));
      },
    );
    const abort = () => {
      req.destroy();
      finish('aborted');
    };
    if (stopSignal?.aborted) return abort();
    stopSignal?.addEventListener('abort', abort, { once: true });
    req.on('error', (e) => finish('error', e.code ?? e.message));
    req.end(payload);
  });
}

/** Loads the model on each (its swap delay is then out of the measurement). */
const preload = (fakes) => Promise.all(fakes.map((f) => stream(f.url, { extra: { maxTokens: 1 } })));
const auth = (key) => (key ? { authorization: `Bearer ${key}` } : {});
const p = (xs, q) => quantile([...xs].sort((a, b) => a - b), q);
const s1 = (ms) => (ms == null ? '–' : fmt(ms / 1000, 2));

// ------------------------------------------------------------------------------------------------
// Fairness

/**
 * `heavy` closed-loop streams from one key (0 = an idle server) and four light keys, each sending one
 * request every `periodMs` (staggered) for `windowMs`. Light requests run to completion (capped).
 */
async function fairnessRun(base, { heavyKey, lightKeys = [null, null, null, null], heavy, windowMs, periodMs, capMs, slots, rate, answer, promptMs }) {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  let heavyTokens = 0;
  let lightTokens = 0;
  let windowStart = 0;
  let windowEnd = Infinity;
  const heavyWorkers = Array.from({ length: heavy }, async () => {
    while (!stop.signal.aborted) {
      const r = await stream(base, {
        headers: auth(heavyKey),
        stopSignal: stop.signal,
        onToken: (t) => {
          if (t >= windowStart && t <= windowEnd) heavyTokens++;
        },
      });
      if (r.end === 'error') await sleep(100);
    }
  });
  if (heavy > 0) await sleep(opts.smoke ? 500 : 1500); // the heavy key's queue fills first
  windowStart = performance.now();
  const light = [];
  const lightWorkers = lightKeys.map(async (key, i) => {
    await sleep((i * periodMs) / lightKeys.length);
    while (performance.now() - windowStart < windowMs) {
      const cap = AbortSignal.timeout(capMs);
      light.push(
        stream(base, {
          headers: auth(key),
          stopSignal: cap,
          onToken: (t) => {
            if (t >= windowStart && t <= windowEnd) lightTokens++;
          },
        }),
      );
      await sleep(periodMs);
    }
  });
  await Promise.all(lightWorkers);
  windowEnd = performance.now(); // throughput over the window the light keys were sending in
  const results = await Promise.all(light);
  stop.abort();
  await Promise.all(heavyWorkers);
  const ttft = results.filter((r) => r.ttftMs != null).map((r) => r.ttftMs);
  const seconds = (windowEnd - windowStart) / 1000;
  return {
    light: results.length,
    lightOk: results.filter((r) => r.end === 'ok').length,
    lightCapped: results.filter((r) => r.ttftMs == null).length,
    lightErrors: [...new Set(results.filter((r) => r.end === 'error').map((r) => r.detail))].slice(0, 3),
    ttftP50: p(ttft, 0.5),
    ttftP95: p(ttft, 0.95),
    ttftMax: ttft.length ? Math.max(...ttft) : null,
    heavyTokensPerS: heavy ? round(heavyTokens / seconds, 1) : null,
    lightTokensPerS: round(lightTokens / seconds, 1),
    // Every slot busy: answer tokens per (prompt delay + answer time).
    capacityTokensPerS: round((slots * answer) / (answer / rate + promptMs / 1000), 1),
    seconds: round(seconds, 1),
  };
}

async function fairness(ctx) {
  const fair = { answerTokens: FAIR_ANSWER };
  const windowMs = opts.smoke ? 2000 : 15_000;
  const periodMs = opts.smoke ? 1000 : 5000;
  const heavy = opts.smoke ? 12 : 40;
  const capMs = opts.smoke ? 8000 : 60_000;
  const common = { heavy, windowMs, periodMs, capMs, slots: GPU.slots, rate: GPU.tokensPerSecond, answer: FAIR_ANSWER, promptMs: GPU.promptDelayMs };
  const out = { config: { ...GPU, answerTokens: FAIR_ANSWER, heavy, lightKeys: 4, periodMs, windowMs, capMs } };

  const [fake, fake2] = [await startFake(ctx, fair), await startFake(ctx, fair)];
  await preload([fake, fake2]);
  log('fairness: idle server');
  out.idle = await fairnessRun(fake.url, { ...common, heavy: 0, windowMs: opts.smoke ? 1000 : 4000 });
  log(`  ${JSON.stringify(out.idle)}`);
  log('fairness: first come first served, straight to the scripted Ollama');
  out.fcfs = await fairnessRun(fake.url, common);
  log(`  ${JSON.stringify(out.fcfs)}`);
  await fake.stop();

  const gw = await startLlmproxy(ctx, 'llmproxy-fairness', [fake2]);
  const heavyKey = await gw.key('heavy');
  const lightKeys = await Promise.all([1, 2, 3, 4].map((i) => gw.key(`light-${i}`)));
  log(`fairness: through llmproxy (${gw.upstreams ? `max_parallel ${GPU.slots}` : 'no upstream list: plain forwarding'})`);
  out.gateway = await fairnessRun(gw.url, { ...common, heavyKey, lightKeys });
  out.gateway.scheduler = !!gw.upstreams;
  log(`  ${JSON.stringify(out.gateway)}`);
  if (gw.upstreams) {
    // The operator's opt-in: one of the GPU's slots kept for keys with nothing in flight.
    for (const u of gw.upstreams) await gw.admin(`/api/upstreams/${u.id}`, { method: 'PATCH', body: JSON.stringify({ reserved_slots: 1 }) });
    log('fairness: through llmproxy, reserved_slots 1');
    out.reserved = await fairnessRun(gw.url, { ...common, heavyKey, lightKeys });
    log(`  ${JSON.stringify(out.reserved)}`);
  }
  await gw.stopAll();
  await fake2.stop();
  return out;
}

// ------------------------------------------------------------------------------------------------
// Scaling

async function throughputRun(base, { key, concurrency, warmMs, windowMs }) {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  let tokens = 0;
  let ws = Infinity;
  let we = Infinity;
  let errors = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stop.signal.aborted) {
      const r = await stream(base, {
        headers: auth(key),
        stopSignal: stop.signal,
        onToken: (t) => {
          if (t >= ws && t <= we) tokens++;
        },
      });
      if (r.end === 'error') {
        errors++;
        await sleep(100);
      }
    }
  });
  await sleep(warmMs);
  ws = performance.now();
  await sleep(windowMs);
  we = performance.now();
  stop.abort();
  await Promise.all(workers);
  return { tokensPerS: round(tokens / ((we - ws) / 1000), 1), errors };
}

async function scaling(ctx) {
  const ns = opts.smoke ? [1, 2] : [1, 2, 4];
  const warmMs = opts.smoke ? 500 : 1000;
  const windowMs = opts.smoke ? 2000 : 6000;
  const fakes = [];
  for (let i = 0; i < Math.max(...ns); i++) fakes.push(await startFake(ctx));
  await preload(fakes);
  const out = { config: { ...GPU, warmMs, windowMs, concurrencyPerUpstream: 2 * GPU.slots }, runs: [] };
  const direct = await throughputRun(fakes[0].url, { concurrency: 2 * GPU.slots, warmMs, windowMs });
  out.direct1 = direct;
  log(`scaling: direct, 1 upstream: ${JSON.stringify(direct)}`);
  for (const n of ns) {
    const gw = await startLlmproxy(ctx, `llmproxy-scaling-${n}`, fakes.slice(0, n));
    const key = await gw.key('scaling');
    const before = await Promise.all(fakes.slice(0, n).map(async (f) => (await f.stats()).admitted));
    const r = await throughputRun(gw.url, { key, concurrency: 2 * GPU.slots * n, warmMs, windowMs });
    const served = await Promise.all(fakes.slice(0, n).map(async (f, i) => (await f.stats()).admitted - before[i]));
    out.runs.push({ upstreams: n, upstreamsUsed: gw.upstreamsUsed, ...r, perUpstreamAdmitted: served });
    log(`scaling: llmproxy, ${n} upstream(s) (${gw.upstreamsUsed} in use): ${JSON.stringify(out.runs.at(-1))}`);
    await gw.stopAll();
  }
  for (const f of fakes) await f.stop();
  return out;
}

// ------------------------------------------------------------------------------------------------
// Affinity

async function affinity(ctx) {
  const out = {};
  const turns = opts.smoke ? 3 : 8;
  const fakes = [await startFake(ctx), await startFake(ctx), await startFake(ctx)];
  await preload(fakes);
  const gw = await startLlmproxy(ctx, 'llmproxy-affinity', fakes);
  const otherKey = await gw.key('background');
  /**
   * Which upstream served each turn, from the usage log: each conversation has its own key and its
   * turns are sequential. (The x-llmproxy-upstream header is missing when an Anthropic stream waited
   * over a second for a slot: its message_start went out before the upstream was known.)
   */
  const servedBy = async (keyName, expected) => {
    for (let tries = 0; tries < 20; tries++) {
      const lines = fs
        .readFileSync(gw.usageLog, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
        .filter((v) => v.key_name === keyName);
      if (lines.length >= expected) return lines.map((v) => v.upstream ?? null);
      await sleep(100); // the usage log is written in batches
    }
    return [];
  };
  /** `conversations` at once, `turns` each, each turn after the previous; `background` streams of another key meanwhile. */
  const run = async (conversations, background) => {
    const stop = new AbortController();
    setMaxListeners(0, stop.signal);
    const bg = Array.from({ length: background }, async (_, b) => {
      while (!stop.signal.aborted) {
        await stream(gw.url, { headers: auth(otherKey), stopSignal: stop.signal, extra: { maxTokens: 40, messages: [{ role: 'user', content: `Background ${b} ${Math.random()}` }] } });
      }
    });
    const convs = await Promise.all(
      Array.from({ length: conversations }, async (_, c) => {
        const kind = c % 2 === 0 ? 'anthropic' : 'openai';
        const id = `bench-conversation-${process.pid}-${background}-${c}`;
        const keyName = `conversation-${background}-${c}`;
        const key = await gw.key(keyName);
        const messages = [{ role: 'user', content: `Conversation ${id}: let us plan a small project.` }];
        const failures = [];
        let headers = 0;
        for (let t = 0; t < turns; t++) {
          const r = await stream(gw.url, {
            kind,
            headers: { ...auth(key), ...(kind === 'anthropic' ? { 'x-claude-code-session-id': id } : {}) },
            extra: { messages, maxTokens: 20, user: kind === 'openai' ? id : undefined },
          });
          if (r.end !== 'ok') failures.push(`${kind} turn ${t}: ${r.status} ${r.end} ${r.detail}`.trim());
          if (r.upstream) headers += 1;
          messages.push({ role: 'assistant', content: `Answer ${t}.` }, { role: 'user', content: `Follow-up ${t + 1}.` });
        }
        return { kind, failures, headers, served: await servedBy(keyName, turns) };
      }),
    );
    stop.abort();
    await Promise.all(bg);
    const r = { conversations, turnsPerConversation: turns, background };
    const failures = convs.flatMap((c) => c.failures);
    if (failures.length > 0 || !convs.every((c) => c.served.length === turns && c.served.every((s) => s))) return { ...r, share: null, failures };
    let later = 0;
    let same = 0;
    for (const c of convs) for (const s of c.served.slice(1)) (later++, s === c.served[0] && same++);
    return { ...r, headersSeen: convs.reduce((a, c) => a + c.headers, 0), turns: later, sameUpstream: same, share: round((100 * same) / later, 1), firstTurnUpstreams: new Set(convs.map((c) => c.served[0])).size };
  };
  const slotsTotal = 3 * GPU.slots;
  out.runs = [await run(slotsTotal - 2, 0), await run(slotsTotal - 2, 3)];
  out.scheduler = !!gw.upstreams;
  out.share = out.runs[0].share;
  out.note = out.runs.every((r) => r.share != null) ? 'usage log' : 'not measurable (a turn failed or the usage log names no upstream)';
  log(`affinity: ${JSON.stringify(out)}`);
  await gw.stopAll();
  for (const f of fakes) await f.stop();

  // Swaps: two models on two upstreams that hold one model each.
  out.swaps = {};
  const swapGpu = { maxLoadedModels: 1 };
  const windowMs = opts.smoke ? 2500 : 5000;
  const workers = 4;
  const swapRun = async (label, send) => {
    const stopAt = performance.now() + windowMs;
    let done = 0;
    let errors = 0;
    const lat = [];
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        const model = w % 2 === 0 ? MODEL_A : MODEL_B;
        while (performance.now() < stopAt) {
          const r = await send(model, [{ role: 'user', content: `Worker ${w} asks ${model} something.` }]);
          if (r.end === 'ok') {
            done++;
            lat.push(r.endedAt - r.startedAt);
          } else errors++;
        }
      }),
    );
    return { label, requests: done, errors, p50Ms: round(p(lat, 0.5), 0) };
  };
  {
    const pair = [await startFake(ctx, swapGpu), await startFake(ctx, swapGpu)];
    let next = 0;
    const r = await swapRun('round robin (client-side, straight to the upstreams)', (model, messages) => stream(pair[next++ % 2].url, { model, extra: { messages, maxTokens: 20 } }));
    const st = await Promise.all(pair.map((f) => f.stats()));
    out.swaps.roundRobin = { ...r, loads: st.reduce((a, s) => a + s.loads, 0), swaps: st.reduce((a, s) => a + s.swaps, 0) };
    log(`affinity/swaps: ${JSON.stringify(out.swaps.roundRobin)}`);
    for (const f of pair) await f.stop();
  }
  // Through llmproxy: each client its own conversation; then all four in one conversation (one
  // x-claude-code-session-id for both models, as Claude Code sends for its main and its small model).
  for (const [field, label, shared] of [
    ['gateway', 'llmproxy (a conversation per client)', false],
    ['gatewayShared', 'llmproxy (both models in one conversation: same x-claude-code-session-id)', true],
  ]) {
    const pair = [await startFake(ctx, swapGpu), await startFake(ctx, swapGpu)];
    const gw2 = await startLlmproxy(ctx, `llmproxy-swaps${shared ? '-shared' : ''}`, pair);
    const k = await gw2.key('swaps');
    const session = shared ? { 'x-claude-code-session-id': `bench-two-models-${process.pid}` } : {};
    const r = await swapRun(label, (model, messages) => stream(gw2.url, { kind: 'anthropic', model, headers: { ...auth(k), ...session }, extra: { messages, maxTokens: 20 } }));
    const st = await Promise.all(pair.map((f) => f.stats()));
    out.swaps[field] = { ...r, loads: st.reduce((a, s) => a + s.loads, 0), swaps: st.reduce((a, s) => a + s.swaps, 0), scheduler: !!gw2.upstreams };
    log(`affinity/swaps: ${JSON.stringify(out.swaps[field])}`);
    await gw2.stopAll();
    for (const f of pair) await f.stop();
  }
  out.swaps.config = { ...GPU, ...swapGpu, workers, windowMs, maxTokens: 20, models: 2 };
  return out;
}

// ------------------------------------------------------------------------------------------------
// Failover

async function failover(ctx) {
  const fakes = [await startFake(ctx), await startFake(ctx), await startFake(ctx)];
  await preload(fakes);
  const gw = await startLlmproxy(ctx, 'llmproxy-failover', fakes);
  const key = await gw.key('failover');
  const concurrency = 3 * GPU.slots * 2;
  const killAtMs = opts.smoke ? 1200 : 3000;
  const runMs = opts.smoke ? 3000 : 9000;
  const stopAt = performance.now() + runMs;
  const results = [];
  const kinds = ['native', 'anthropic', 'openai'];
  const workers = Array.from({ length: concurrency }, async (_, w) => {
    while (performance.now() < stopAt) {
      const r = await stream(gw.url, { kind: kinds[w % 3], headers: auth(key), extra: { maxTokens: opts.smoke ? 60 : 120 } });
      r.kind = kinds[w % 3];
      results.push(r);
      if (r.end === 'error') await sleep(50);
    }
  });
  await sleep(killAtMs);
  const victim = fakes[1];
  const killedAt = performance.now();
  victim.kill();
  const victimName = gw.nameOf(victim.url);
  await Promise.all(workers);
  const cut = results.filter((r) => r.end === 'cut');
  // What the gateway says: failovers per upstream, and the usage log's outcome per request (settled).
  let failovers = null;
  const listed = await fetch(`${gw.adminUrl}/api/upstreams`, { headers: { authorization: `Bearer ${gw.password}` } });
  if (listed.status === 200) failovers = (await listed.json()).reduce((a, u) => a + (u.status.failovers ?? 0), 0);
  await sleep(300); // the usage log is written in batches
  const outcomes = {};
  try {
    for (const line of fs.readFileSync(gw.usageLog, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const v = JSON.parse(line);
        const o = v.outcome ?? v.message?.outcome;
        if (o) outcomes[o] = (outcomes[o] ?? 0) + 1;
      } catch {}
    }
  } catch {}
  const out = {
    config: { ...GPU, upstreams: 3, concurrency, killAtMs, runMs, dialects: kinds },
    scheduler: !!gw.upstreams,
    upstreamsUsed: gw.upstreamsUsed,
    requests: results.length,
    ok: results.filter((r) => r.end === 'ok').length,
    errorsBeforeStreaming: results.filter((r) => r.end === 'error').length,
    errorDetails: [...new Set(results.filter((r) => r.end === 'error').map((r) => r.detail))].slice(0, 5),
    startedAfterKill: results.filter((r) => r.startedAt >= killedAt).length,
    failovers,
    usageOutcomes: outcomes,
    cutStreams: cut.length,
    cutWithInDialectError: cut.filter((r) => r.inBand).length,
    cutByDialect: Object.fromEntries(kinds.map((k) => [k, cut.filter((r) => r.kind === k).length])),
    victim: victimName ?? victim.url,
    servedByVictimAfterKill: results.filter((r) => r.startedAt >= killedAt && r.upstream && r.upstream === victimName && r.end === 'ok').length,
  };
  log(`failover: ${JSON.stringify(out)}`);
  await gw.stopAll();
  for (const f of fakes) await f.stop();
  return out;
}

// ------------------------------------------------------------------------------------------------
// Report

function render(res) {
  const o = [];
  const g = res.gpu;
  o.push(
    `Run ${res.startedAt} on ${res.machine.cpu} (${res.machine.nproc} cores), Node ${res.machine.node}; code ${res.git}; ${res.elapsedSeconds} s${res.smoke ? ' (smoke)' : ''} (${Object.entries(res.seconds ?? {}).map(([k, v]) => `${k} ${v} s`).join(', ')}).`,
  );
  o.push(
    `Scripted Ollamas in GPU mode: ${g.slots} slots, ${g.tokensPerSecond} tokens/s per slot, ${g.answerTokens}-token answers, ${g.promptDelayMs} ms to the first token, ${g.swapDelayMs} ms model swap, one model loaded at a time. llmproxy on SQLite, each upstream's max_parallel set to its slots.`,
  );
  const f = res.scenarios.fairness;
  if (f) {
    o.push(`\n#### Fairness: light keys' time to first token (s)\n`);
    o.push(
      `One key keeps ${f.config.heavy} streams in flight; four light keys send one request every ${f.config.periodMs / 1000} s each for ${f.config.windowMs / 1000} s; ${f.config.answerTokens}-token answers (${fmt((1000 * f.config.answerTokens) / f.config.tokensPerSecond / 1000, 2)} s) on one upstream.\n`,
    );
    o.push('| workload | light requests | TTFT p50 | TTFT p95 | max | p95 / idle p95 | tokens/s heavy + light (all slots busy) |');
    o.push('|---|---:|---:|---:|---:|---:|---:|');
    const row = (label, r) =>
      r &&
      o.push(
        `| ${label} | ${r.light}${r.lightCapped ? ` (${r.lightCapped} no token in ${f.config.capMs / 1000} s)` : ''} | ${s1(r.ttftP50)} | ${s1(r.ttftP95)} | ${s1(r.ttftMax)} | ${f.idle?.ttftP95 && r.ttftP95 ? `${fmt(r.ttftP95 / f.idle.ttftP95, 1)}×` : '–'} | ${r.heavyTokensPerS == null ? `– + ${fmt(r.lightTokensPerS, 1)}` : `${fmt(r.heavyTokensPerS, 1)} + ${fmt(r.lightTokensPerS, 1)} (${fmt(r.capacityTokensPerS, 1)})`} |`,
      );
    row('idle server (light keys only)', f.idle);
    row('first come first served (straight to the scripted Ollama)', f.fcfs);
    row(`through llmproxy${f.gateway?.scheduler ? ' (fair queue)' : ' (no scheduler: one upstream, forwarded)'}`, f.gateway);
    row('through llmproxy, reserved_slots 1 (one slot kept for keys with nothing in flight)', f.reserved);
  }
  const sc = res.scenarios.scaling;
  if (sc) {
    o.push(`\n#### Scaling: aggregate tokens/s, same model on every upstream\n`);
    o.push(`Closed loop, ${sc.config.concurrencyPerUpstream} streams per upstream, measured over ${sc.config.windowMs / 1000} s after ${sc.config.warmMs / 1000} s.\n`);
    o.push('| target | upstreams (in use) | tokens/s | vs N × direct | requests per upstream | errors |');
    o.push('|---|---:|---:|---:|---|---:|');
    o.push(`| direct | 1 | ${fmt(sc.direct1.tokensPerS, 1)} | 100 % | – | ${sc.direct1.errors} |`);
    for (const r of sc.runs)
      o.push(
        `| llmproxy | ${r.upstreams} (${r.upstreamsUsed}) | ${fmt(r.tokensPerS, 1)} | ${fmt((100 * r.tokensPerS) / (r.upstreams * sc.direct1.tokensPerS))} % | ${r.perUpstreamAdmitted.join(' / ')} | ${r.errors} |`,
      );
  }
  const a = res.scenarios.affinity;
  if (a) {
    o.push(`\n#### Affinity\n`);
    if (a.share == null) o.push(`Conversations returning to the same upstream: ${a.note}.`);
    else {
      o.push(`Conversations over 3 upstreams (half /v1/messages with x-claude-code-session-id, half /v1/chat/completions with user), each turn after the previous, ${a.runs[0].turnsPerConversation} turns; upstream from the ${a.note}.\n`);
      o.push('| conversations at once | background streams (another key) | later turns on the first turn\'s upstream | share | first turns spread over |');
      o.push('|---:|---:|---:|---:|---:|');
      for (const r of a.runs) o.push(`| ${r.conversations} | ${r.background} | ${r.sameUpstream} / ${r.turns} | **${fmt(r.share, 1)} %** | ${r.firstTurnUpstreams} upstreams |`);
    }
    const sw = a.swaps;
    if (sw?.roundRobin) {
      o.push(`\nModel swaps: two models, two upstreams holding one model each (${sw.config.swapDelayMs} ms swap), ${sw.config.workers} clients (two per model), ${sw.config.maxTokens}-token answers, ${sw.config.windowMs / 1000} s:\n`);
      o.push('| routing | model loads (swap delays taken) | of which swaps | requests done | p50 latency ms | errors |');
      o.push('|---|---:|---:|---:|---:|---:|');
      for (const r of [sw.roundRobin, sw.gateway, sw.gatewayShared].filter(Boolean)) o.push(`| ${r.label} | ${r.loads} | ${r.swaps} | ${r.requests} | ${fmt(r.p50Ms)} | ${r.errors} |`);
    }
  }
  const fo = res.scenarios.failover;
  if (fo) {
    o.push(`\n#### Failover: one of three upstreams killed (SIGKILL) after ${fo.config.killAtMs / 1000} s of a ${fo.config.runMs / 1000} s run\n`);
    o.push(`${fo.config.concurrency} closed-loop streams through llmproxy (native, Anthropic and OpenAI in turn), ${fo.upstreamsUsed} upstream(s) in use.\n`);
    o.push('| requests | completed | client-visible errors before streaming | failovers (gateway) | streams cut on the dead upstream | of which ended with an in-dialect error | usage log outcomes |');
    o.push('|---:|---:|---:|---:|---:|---:|---|');
    o.push(
      `| ${fo.requests} | ${fo.ok} | ${fo.errorsBeforeStreaming} | ${fo.failovers ?? '–'} | ${fo.cutStreams} (${Object.entries(fo.cutByDialect).map(([k, v]) => `${k} ${v}`).join(', ')}) | ${fo.cutWithInDialectError} | ${Object.entries(fo.usageOutcomes).map(([k, v]) => `${k} ${v}`).join(', ') || '–'} |`,
    );
    if (fo.errorDetails.length) o.push(`\nErrors: ${fo.errorDetails.map((d) => `\`${d}\``).join('; ')}`);
  }
  return o.join('\n') + '\n';
}

// ------------------------------------------------------------------------------------------------

async function main() {
  if (!fs.existsSync(GATEWAY_MAIN)) throw new Error(`${path.relative(ROOT, GATEWAY_MAIN)} is missing: run \`npm run build\` first`);
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-bench-gpu-'));
  const ctx = { tmp, procs: new Set(), fakeMain: await buildFake(tmp) };
  const { spawnSync } = await import('node:child_process');
  const git = (...a) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const res = {
    startedAt: new Date().toISOString(),
    machine: machine(),
    git: git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain').trim() ? ' + uncommitted changes' : ''),
    smoke: opts.smoke,
    gpu: { ...GPU, maxLoadedModels: 1 },
    scenarios: {},
  };
  log(`bench:gpu: logs in ${tmp}`);
  const all = { fairness, scaling, affinity, failover };
  let broken = false;
  try {
    for (const name of opts.scenarios) {
      if (!all[name]) throw new Error(`unknown scenario ${name} (fairness, scaling, affinity, failover)`);
      const started = Date.now();
      try {
        res.scenarios[name] = await all[name](ctx);
      } catch (error) {
        broken = true;
        res.scenarios[name] = undefined;
        log(`${name}: FAILED: ${error.stack ?? error}`);
      }
      (res.seconds ??= {})[name] = Math.round((Date.now() - started) / 1000);
      log(`${name}: ${res.seconds[name]} s`);
    }
  } finally {
    for (const proc of [...ctx.procs]) await stopProcess(proc, 2000);
    agent.destroy();
  }
  res.elapsedSeconds = Math.round((Date.now() - t0) / 1000);
  const S = res.scenarios;
  if (S.fairness && !(S.fairness.gateway?.lightOk > 0)) broken = true;
  if (S.scaling && !S.scaling.runs.every((r) => r.tokensPerS > 0)) broken = true;
  if (S.failover && !(S.failover.ok > 0)) broken = true;
  const md = render(res);
  fs.mkdirSync(opts.out, { recursive: true });
  const prefix = opts.smoke ? 'gpu-smoke' : 'gpu';
  fs.writeFileSync(path.join(opts.out, `${prefix}-latest.json`), JSON.stringify(res, null, 2));
  fs.writeFileSync(path.join(opts.out, `${prefix}-latest.md`), md);
  if (opts.smoke) {
    const bits = [];
    if (S.fairness) bits.push(`fairness light TTFT p95 idle ${s1(S.fairness.idle.ttftP95)} s / FCFS ${s1(S.fairness.fcfs.ttftP95)} s / llmproxy ${s1(S.fairness.gateway.ttftP95)} s`);
    if (S.scaling) bits.push(`scaling ${S.scaling.runs.map((r) => `${r.upstreams}→${fmt(r.tokensPerS)}`).join(', ')} tokens/s`);
    if (S.affinity) bits.push(`affinity ${S.affinity.share == null ? 'not measurable' : `${S.affinity.share} %`}`);
    if (S.failover) bits.push(`failover ${S.failover.errorsBeforeStreaming} errors before streaming, ${S.failover.cutStreams} cut`);
    console.log(`bench:gpu smoke ${broken ? 'FAILED' : 'ok'} (${res.elapsedSeconds} s) — ${bits.join('; ')}`);
  } else console.log(`\n${md}`);
  if (broken) console.error(`bench:gpu: logs kept in ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
  process.exitCode = broken ? 1 : 0;
}

main().catch((error) => {
  console.error(`bench:gpu: ${error?.stack ?? error}`);
  process.exit(2);
});
