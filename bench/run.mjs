#!/usr/bin/env node
/**
 * llmproxy's overhead, side by side with a direct upstream, a thin Node proxy and nginx (see
 * bench/README.md). One command: `npm run bench` (= build, then `node bench/run.mjs`).
 *
 *   node bench/run.mjs [--targets direct,thin,nginx,sqlite,pg,sqlite-multi]
 *                      [--scenarios s1,s2,s3,s4,s5,s6,d1,d2,d3,d4] [--dialects native,openai,anthropic,responses]
 *                      [--duration 4] [--reps 3] [--warmup 1] [--connections 32] [--samples 2000]
 *                      [--busy 40] [--rate N] [--slow-streams 1000] [--slow-seconds 30] [--profile] [--stalls] [--smoke]
 *                      [--node-args="--flag …"] (node/V8 flags for the llmproxy targets only)
 *
 * Cores (2-core machine): the server under test on core 0 alone; autocannon (this process) and the
 * shared fast upstream on core 1. The `direct` target is an upstream of its own on core 0.
 * PostgreSQL is a system service and is not pinned.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const GATEWAY_MAIN = path.join(ROOT, 'dist/apps/gateway/src/main.js');
const SERVER_CORE = '0';
const LOAD_CORE = '1';

// ------------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const o = {
    targets: ['direct', 'thin', 'nginx', 'sqlite', 'pg', 'sqlite-multi'],
    scenarios: ['s1', 's2', 's3', 's4', 's5', 's6', 'd1', 'd2', 'd3', 'd4'],
    // Issue 17's per-dialect rows (d1–d4) for llmproxy targets; baselines always get the native request.
    dialects: ['native', 'openai', 'anthropic', 'responses'],
    samples: 2000, // requests per repetition of the c=1 scenarios d2 and d3 (after a warm-up of a tenth)
    busy: 40, // d4: offered stream rate that keeps the thin proxy's core this % busy
    rate: null, // d4: a fixed rate (req/s) instead of the calibration
    duration: 4,
    reps: 3,
    warmup: 1,
    connections: 32,
    slowStreams: 1000,
    slowSeconds: 30,
    profile: false,
    stalls: false, // event-loop delay, GC pauses and stalls of llmproxy per measurement (bench/event-loop-probe.mjs)
    nodeArgs: [], // extra node/V8 flags for the llmproxy targets only, e.g. --node-args=--single-threaded-gc
    smoke: false,
    out: path.join(HERE, 'results'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--targets') o.targets = next().split(',');
    else if (a === '--scenarios') o.scenarios = next().split(',');
    else if (a === '--dialects') o.dialects = next().split(',');
    else if (a === '--samples') o.samples = Number(next());
    else if (a === '--busy') o.busy = Number(next());
    else if (a === '--rate') o.rate = Number(next());
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--reps') o.reps = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--connections') o.connections = Number(next());
    else if (a === '--slow-streams') o.slowStreams = Number(next());
    else if (a === '--slow-seconds') o.slowSeconds = Number(next());
    else if (a === '--profile') o.profile = true;
    else if (a === '--stalls') o.stalls = true;
    else if (a.startsWith('--node-args=')) o.nodeArgs = a.slice('--node-args='.length).split(' ').filter(Boolean);
    else if (a === '--out') o.out = path.resolve(next());
    else if (a === '--smoke') o.smoke = true;
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 15).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.smoke) {
    // Seconds, no thresholds: proves every piece still starts and answers.
    o.targets = argv.includes('--targets') ? o.targets : ['direct', 'sqlite'];
    o.scenarios = argv.includes('--scenarios') ? o.scenarios : ['s1', 's2', 's4', 's6', 'd2'];
    o.samples = argv.includes('--samples') ? o.samples : 100;
    o.duration = argv.includes('--duration') ? o.duration : 1;
    o.reps = argv.includes('--reps') ? o.reps : 1;
    o.warmup = argv.includes('--warmup') ? o.warmup : 0;
    o.connections = argv.includes('--connections') ? o.connections : 8;
  }
  const known = ['native', 'openai', 'anthropic', 'responses'];
  for (const d of o.dialects) if (!known.includes(d)) throw new Error(`unknown dialect ${d} (${known.join(', ')})`);
  return o;
}

// Imported by bench/gpu.mjs for its helpers: then nothing runs and the arguments are not this script's.
const isMain = !!process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
const opts = parseArgs(isMain ? process.argv.slice(2) : []);

// ------------------------------------------------------------------------------------------------
// Pinning: re-run this script on the load core, children go where they are told.

const hasTaskset = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
const canPin = hasTaskset && os.cpus().length >= 2;

const log = (...a) => {
  if (!opts.smoke) console.error(...a);
};

// ------------------------------------------------------------------------------------------------
// Processes

const children = new Set();

function pinned(core, command, args) {
  return canPin ? ['taskset', ['-c', core, command, ...args]] : [command, args];
}

function startProcess(name, core, command, args, { env = process.env, logFile, readyLine = false } = {}) {
  const [cmd, argv] = pinned(core, command, args);
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, argv, { env, stdio: ['ignore', readyLine ? 'pipe' : logFd, logFd], cwd: ROOT });
  fs.closeSync(logFd);
  children.add(child);
  child.on('exit', () => children.delete(child));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let ready;
  if (readyLine) {
    ready = new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += d;
        const line = buf.split('\n')[0];
        if (buf.includes('\n')) {
          try {
            resolve(JSON.parse(line));
          } catch {
            reject(new Error(`${name}: unexpected output ${line}`));
          }
        }
      });
      exited.then(({ code }) => reject(new Error(`${name} exited with code ${code} before it listened (see ${logFile})`)));
      setTimeout(() => reject(new Error(`${name} did not start within 15 s`)), 15_000).unref();
    });
  }
  return { name, child, pid: child.pid, exited, ready, logFile };
}

async function stopProcess(proc, timeoutMs = 12_000) {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const t = sleep(timeoutMs, 'timeout', { ref: false }); // no timer left keeping the process alive
  if ((await Promise.race([proc.exited, t])) === 'timeout') {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

function stopAll() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', stopAll);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, { timeoutMs = 30_000, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${proc.name} exited with code ${proc.child.exitCode} (see ${proc.logFile})`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

// ------------------------------------------------------------------------------------------------
// /proc readings

function procCpuTicks(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    } catch {}
  }
  return total;
}
const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux x86_64

function coreTimes() {
  const out = {};
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out[m[1]] = { total, idle: v[3] + v[4] };
  }
  return out;
}
function coreBusy(before, after) {
  const out = {};
  for (const k of Object.keys(after)) {
    const dt = after[k].total - before[k].total;
    out[`cpu${k}`] = dt > 0 ? Math.round((100 * (dt - (after[k].idle - before[k].idle))) / dt) : null;
  }
  return out;
}

function procStatus(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return { rssKb: NaN, hwmKb: NaN };
  }
}

function childPids(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// ------------------------------------------------------------------------------------------------
// Statistics

const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);
const round = (x, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

// ------------------------------------------------------------------------------------------------
// Requests

const MODEL = 'bench:latest';
const CHUNKS = 50;
const chatMessages = [
  { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
  { role: 'user', content: 'Write a short story about a quick brown fox and a lazy dog.' },
];
// Every request names its maximum output (num_predict / max_tokens), as Claude Code and most SDK
// clients do: llmproxy reserves that much of a token quota per request in flight. Without it a request
// reserves everything the key has left, so a key with token limits admits one such request at a time.
const MAX_TOKENS = 1024;
const bodies = {
  chat: JSON.stringify({ model: MODEL, messages: chatMessages, stream: false, options: { num_predict: MAX_TOKENS } }),
  chatStream: JSON.stringify({ model: MODEL, messages: chatMessages, stream: true, options: { num_predict: MAX_TOKENS } }),
  openai: JSON.stringify({ model: MODEL, messages: chatMessages, stream: true, max_tokens: MAX_TOKENS }),
  anthropic: JSON.stringify({ model: MODEL, max_tokens: MAX_TOKENS, system: chatMessages[0].content, messages: [chatMessages[1]], stream: true }),
  // Issue 17: the same request in every dialect, non-streamed and streamed, as the official SDKs send it
  // (openai: chat.completions.create / responses.create; @anthropic-ai/sdk: messages.create).
  openaiJson: JSON.stringify({ model: MODEL, messages: chatMessages, stream: false, max_tokens: MAX_TOKENS }),
  anthropicJson: JSON.stringify({ model: MODEL, max_tokens: MAX_TOKENS, system: chatMessages[0].content, messages: [chatMessages[1]], stream: false }),
  responses: JSON.stringify({ model: MODEL, instructions: chatMessages[0].content, input: chatMessages[1].content, max_output_tokens: MAX_TOKENS, store: false, stream: true }),
  responsesJson: JSON.stringify({ model: MODEL, instructions: chatMessages[0].content, input: chatMessages[1].content, max_output_tokens: MAX_TOKENS, store: false }),
};

async function loadClaudeCode() {
  const { claudeCodeRequest } = await import('./claude-code-request.mjs');
  const anthropicBody = claudeCodeRequest({ model: MODEL, stream: true });
  // What llmproxy sends Ollama for it: the direct and proxy targets get exactly that.
  const { anthropic } = await import(pathToFileURL(path.join(ROOT, 'dist/libs/dialects/src/index.js')).href);
  const translated = anthropic.translateMessagesRequest(anthropicBody, { model: MODEL, numCtx: undefined, thinkingCapable: false });
  return { anthropic: JSON.stringify(anthropicBody), ollama: JSON.stringify({ ...translated.request, stream: true }) };
}

/** autocannon, returning throughput of successful responses and latency percentiles (ms). */
async function cannon(url, { body, headers, connections, duration }) {
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
    connections,
    duration,
    pipelining: 1,
    timeout: 30,
  });
  const ok = r['2xx'];
  return {
    rps: ok / r.duration,
    ok,
    failed: r.non2xx + r.errors + r.timeouts,
    p50: r.latency.p50,
    p99: r.latency.p99,
    mean: r.latency.mean,
  };
}

/** Closed-loop client with µs timing: time to first body byte and to the end, per request. */
async function timedRequests(url, { body, headers, connections = 1, durationMs, count }) {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const payload = Buffer.from(body);
  const ttfb = [];
  const total = [];
  let failed = 0;
  const one = () =>
    timedPost(u, agent, payload, headers).then((r) => {
      if (r) {
        ttfb.push(r.ttfbMs);
        total.push(r.totalMs);
      } else failed++;
    });
  const started = Date.now();
  const deadline = started + (durationMs ?? Infinity);
  let sent = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      // A fixed number of requests (count) or as many as fit in durationMs.
      while (count ? sent++ < count : Date.now() < deadline) await one();
    }),
  );
  agent.destroy();
  ttfb.sort((a, b) => a - b);
  total.sort((a, b) => a - b);
  return {
    ok: total.length,
    failed,
    rps: total.length / ((Date.now() - started) / 1000),
    ttfbP50: quantile(ttfb, 0.5),
    ttfbP99: quantile(ttfb, 0.99),
    p50: quantile(total, 0.5),
    p99: quantile(total, 0.99),
  };
}

/**
 * One POST of `payload`, timed with hrtime from the moment it is handed to `agent`: time to the first
 * body byte and to the end, in ms; null when it failed (a status other than 200, no body, an error).
 */
function timedPost(u, agent, payload, headers) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let first = 0n;
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length, ...headers } },
      (res) => {
        res.on('data', () => {
          if (!first) first = process.hrtime.bigint();
        });
        res.on('end', () => resolve(res.statusCode === 200 && first ? { ttfbMs: Number(first - t0) / 1e6, totalMs: Number(process.hrtime.bigint() - t0) / 1e6 } : null));
        res.on('error', () => resolve(null));
      },
    );
    req.on('error', () => resolve(null));
    req.end(payload);
  });
}

/**
 * Open-loop client for (d4): `rate` requests a second spread round-robin over `connections` keep-alive
 * connections (one socket each, so every connection carries traffic, as autocannon's overallRate does),
 * dispatched on ~1 ms timer ticks. Time to first body byte is taken from the moment a request is
 * handed to its connection (a request waiting for its busy connection counts that wait), with hrtime.
 */
async function pacedRequests(url, { body, headers, connections, rate, durationMs }) {
  const u = new URL(url);
  const agents = Array.from({ length: connections }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const payload = Buffer.from(body);
  const ttfb = [];
  const total = [];
  let failed = 0;
  const one = (agent) =>
    timedPost(u, agent, payload, headers).then((r) => {
      if (r) {
        ttfb.push(r.ttfbMs);
        total.push(r.totalMs);
      } else failed++;
    });
  const n = Math.max(1, Math.round((rate * durationMs) / 1000));
  const started = performance.now();
  const pending = [];
  for (let i = 0; i < n; ) {
    const due = Math.floor(((performance.now() - started) * rate) / 1000) + 1;
    while (i < Math.min(n, due)) {
      pending.push(one(agents[i % connections]));
      i++;
    }
    if (i < n) await sleep(1);
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  for (const a of agents) a.destroy();
  ttfb.sort((a, b) => a - b);
  total.sort((a, b) => a - b);
  return {
    ok: total.length,
    failed,
    rps: total.length / elapsed,
    offeredRate: rate,
    ttfbP50: quantile(ttfb, 0.5),
    ttfbP99: quantile(ttfb, 0.99),
    p50: quantile(total, 0.5),
    p99: quantile(total, 0.99),
  };
}

async function upstreamControl(base, pathname, body) {
  const r = await fetch(base + pathname, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  return r.json();
}

// ------------------------------------------------------------------------------------------------
// Targets

function findNginx() {
  for (const p of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']) {
    const f = path.join(p, 'nginx');
    if (p && fs.existsSync(f)) return f;
  }
  return null;
}

async function createPgDatabase() {
  const base = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
  const { default: pg } = await import('pg');
  const name = `llmproxy_bench_${process.pid}`;
  const client = new pg.Client({ connectionString: `${base}/postgres`, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name}`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return {
    url: `${base}/${name}`,
    drop: async () => {
      const c = new pg.Client({ connectionString: `${base}/postgres`, connectionTimeoutMillis: 3000 });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * llmproxy from dist/ on the server core: a fresh database, a random admin password, the usage log and
 * logs in `tmp`. `upstreamUrls` (several) go to OLLAMA_URLS, which seeds the upstream list of a fresh
 * database; `env` adds or overrides variables. Waits until the proxy port answers.
 */
export async function startGateway({ label, tmp, databaseUrl, upstreamUrl, upstreamUrls, env = {}, nodeArgs = [], core = SERVER_CORE }) {
  const [port, adminPort] = [await freePort(), await freePort()];
  const password = randomBytes(12).toString('hex');
  const proc = startProcess(label, core, process.execPath, [...nodeArgs, GATEWAY_MAIN], {
    logFile: path.join(tmp, `${label}.log`),
    env: {
      ...process.env,
      NODE_ENV: 'production',
      ADMIN_PASSWORD: password,
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: String(port),
      ADMIN_HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
      DATABASE_URL: databaseUrl ?? `sqlite:///${path.join(tmp, `${label}.db`)}`,
      OLLAMA_URL: upstreamUrl ?? upstreamUrls[0],
      ...(upstreamUrls ? { OLLAMA_URLS: upstreamUrls.join(',') } : {}),
      LOG_FILE: path.join(tmp, `${label}-usage.log`),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      // The scripted Ollama has no GPU to protect: no gateway queue unless a scenario sets one (bench/gpu.mjs).
      UPSTREAM_MAX_PARALLEL: '1024',
      ...env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/`, { proc, timeoutMs: 60_000 });
    // The admin listener opens after the proxy's (it first checks whether ADMIN_PASSWORD changed).
    await waitForHttp(`http://127.0.0.1:${adminPort}/healthz`, { proc, timeoutMs: 60_000 });
  } catch (error) {
    await stopProcess(proc);
    throw error;
  }
  return {
    url,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    password,
    pid: proc.pid,
    proc,
    usageLog: path.join(tmp, `${label}-usage.log`),
    stop: () => stopProcess(proc),
  };
}

/** A key through the admin API (limits far out of the way unless `fields` says otherwise); returns the key. */
export async function createKey(gateway, fields = {}) {
  const r = await fetch(`${gateway.adminUrl}/api/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gateway.password}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      daily_token_limit: 1e15,
      monthly_token_limit: 1e15,
      daily_request_limit: 1e12,
      monthly_request_limit: 1e12,
      ...fields,
    }),
  });
  const created = await r.json();
  if (!created.key) throw new Error(`could not create a key: ${r.status} ${JSON.stringify(created)}`);
  return created.key;
}

function makeTargets(ctx) {
  const { upstreamUrl, tmp } = ctx;
  // `upstreams: 2` = the scheduler of several upstreams in the path (issue 17): two fake Ollamas of its
  // own on the load core, both in the gateway's upstream list (OLLAMA_URLS), both showing the model
  // loaded (/api/ps, `--loaded`), as two warm Ollamas would. The bench's requests are all one
  // conversation (same system prompt and first message), so the scheduler's affinity keeps those that
  // carry one on the upstream that served it first; the routing work is done for every request.
  const gateway = (label, dbKind, { upstreams = 1 } = {}) => ({
    name: label,
    llmproxy: true,
    slow: true,
    async start() {
      let db;
      const own = [];
      let databaseUrl;
      if (dbKind === 'sqlite') databaseUrl = `sqlite:///${path.join(tmp, `${label}.db`)}`;
      else {
        db = await createPgDatabase();
        databaseUrl = db.url;
      }
      const nodeArgs = [...opts.nodeArgs];
      if (opts.profile) {
        const dir = path.join(opts.out, 'profiles', label);
        fs.rmSync(dir, { recursive: true, force: true }); // this run's profile only
        fs.mkdirSync(dir, { recursive: true });
        nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
      }
      const env = {};
      if (opts.stalls) {
        nodeArgs.push('--import', pathToFileURL(path.join(HERE, 'event-loop-probe.mjs')).href);
        env.BENCH_EVENT_LOOP_DIR = tmp;
      }
      let gateway;
      try {
        let upstreamUrls;
        if (upstreams > 1) {
          upstreamUrls = [];
          for (let i = 1; i <= upstreams; i++) {
            const p = startProcess(`${label}-upstream-${i}`, LOAD_CORE, process.execPath, [path.join(HERE, 'upstream.mjs'), '--port', '0', '--chunks', String(CHUNKS), '--loaded'], {
              readyLine: true,
              logFile: path.join(tmp, `${label}-upstream-${i}.log`),
            });
            own.push(p);
            upstreamUrls.push(`http://127.0.0.1:${(await p.ready).listening}`);
          }
        }
        gateway = await startGateway({ label, tmp, databaseUrl, upstreamUrl: upstreamUrls ? undefined : upstreamUrl, upstreamUrls, nodeArgs, env });
        let upstreamList = null;
        if (upstreamUrls) upstreamList = await waitForUpstreams(gateway, upstreamUrls.length);
        const key = await createKey(gateway, { name: 'bench' });
        return {
          url: gateway.url,
          pids: () => [gateway.pid],
          rssPid: gateway.pid,
          eventLoop: opts.stalls ? () => eventLoopSnapshot(tmp, gateway.pid) : undefined,
          headers: { authorization: `Bearer ${key}` },
          controls: upstreamUrls,
          upstreamList,
          async stop() {
            await gateway.stop();
            for (const p of own) await stopProcess(p);
            if (db) await db.drop().catch((e) => log(`  could not drop ${db.url}: ${e.message}`));
          },
        };
      } catch (error) {
        await gateway?.stop();
        for (const p of own) await stopProcess(p);
        if (db) await db.drop().catch(() => {});
        throw error;
      }
    },
  });

  return {
    direct: {
      name: 'direct',
      async start() {
        const proc = startProcess('upstream-direct', SERVER_CORE, process.execPath, [path.join(HERE, 'upstream.mjs'), '--port', '0'], {
          readyLine: true,
          logFile: path.join(tmp, 'upstream-direct.log'),
        });
        const { listening } = await proc.ready;
        return { url: `http://127.0.0.1:${listening}`, pids: () => [proc.pid], rssPid: proc.pid, headers: {}, control: `http://127.0.0.1:${listening}`, stop: () => stopProcess(proc) };
      },
    },
    thin: {
      name: 'thin-proxy',
      slow: true,
      async start() {
        const proc = startProcess('thin-proxy', SERVER_CORE, process.execPath, [path.join(HERE, 'thin-proxy.mjs'), '--port', '0', '--upstream', upstreamUrl], {
          readyLine: true,
          logFile: path.join(tmp, 'thin-proxy.log'),
        });
        const { listening } = await proc.ready;
        return { url: `http://127.0.0.1:${listening}`, pids: () => [proc.pid], rssPid: proc.pid, headers: {}, stop: () => stopProcess(proc) };
      },
    },
    nginx: {
      name: 'nginx',
      optional: true,
      async start() {
        const bin = findNginx();
        if (!bin) return null;
        const dir = path.join(tmp, 'nginx');
        fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
        const port = await freePort();
        const up = new URL(upstreamUrl);
        const isRoot = process.getuid?.() === 0;
        fs.writeFileSync(
          path.join(dir, 'nginx.conf'),
          `${isRoot ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  keepalive_requests 1000000;
  upstream ollama { server ${up.hostname}:${up.port}; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ollama;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`,
        );
        const proc = startProcess('nginx', SERVER_CORE, bin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], {
          logFile: path.join(tmp, 'nginx.log'),
        });
        const url = `http://127.0.0.1:${port}`;
        await waitForHttp(`${url}/api/version`, { proc, timeoutMs: 10_000 });
        return { url, pids: () => [proc.pid, ...childPids(proc.pid)], rssPid: null, headers: {}, stop: () => stopProcess(proc) };
      },
    },
    sqlite: gateway('llmproxy-sqlite', 'sqlite'),
    pg: gateway('llmproxy-pg', 'pg'),
    'sqlite-multi': gateway('llmproxy-sqlite-multi', 'sqlite', { upstreams: 2 }),
  };
}

/** Until the gateway's upstream list (admin API) shows `n` upstreams up with models, at most 20 s. */
async function waitForUpstreams(gateway, n) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await fetch(`${gateway.adminUrl}/api/upstreams`, { headers: { authorization: `Bearer ${gateway.password}` } });
    if (r.status !== 200) throw new Error(`GET /api/upstreams: HTTP ${r.status}: no upstream list, so no scheduler of several upstreams`);
    const list = await r.json();
    const up = list.filter((u) => u.enabled && u.status?.health === 'up' && u.status.models?.length > 0);
    if (up.length >= n) return list.map((u) => ({ name: u.name, url: u.url, health: u.status?.health }));
    if (Date.now() > deadline) throw new Error(`${up.length} of ${n} upstreams up after 20 s: ${JSON.stringify(list.map((u) => [u.url, u.status?.health]))}`);
    await sleep(200);
  }
}

// ------------------------------------------------------------------------------------------------
// Sanity checks: one request each, before any load

async function check(target, pathname, body, expect) {
  try {
    const r = await fetch(target.url + pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await r.text();
    if (r.status !== 200) return `${pathname}: HTTP ${r.status} ${text.slice(0, 200)}`;
    return expect(text);
  } catch (error) {
    return `${pathname}: ${error.message}`;
  }
}

const expectNdjson = (text) => {
  const lines = text.trim().split('\n');
  const last = JSON.parse(lines.at(-1));
  if (last.done !== true) return 'stream did not end with done:true';
  if (lines.length !== CHUNKS + 1) return `warning: ${lines.length - 1} chunks instead of ${CHUNKS}`;
  return null;
};
const expectJson = (text) => {
  const v = JSON.parse(text);
  if (v.done !== true) return 'answer without done:true';
  if (v.eval_count !== CHUNKS) return `warning: eval_count ${v.eval_count} instead of ${CHUNKS}`;
  return null;
};
const expectOpenAi = (text) => (text.includes('data: [DONE]') ? null : 'OpenAI stream without data: [DONE]');
const expectAnthropic = (text) => (text.includes('event: message_stop') ? null : 'Anthropic stream without message_stop');
const expectResponses = (text) => (text.includes('event: response.completed') ? null : 'Responses stream without response.completed');
const tokens = (n, what) => (n === CHUNKS ? null : `warning: ${what} ${n} instead of ${CHUNKS}`);
const expectOpenAiJson = (text) => {
  const v = JSON.parse(text);
  if (v.object !== 'chat.completion' || typeof v.choices?.[0]?.message?.content !== 'string' || !v.choices[0].finish_reason) return 'not a chat.completion with a message and a finish_reason';
  return tokens(v.usage?.completion_tokens, 'usage.completion_tokens');
};
const expectAnthropicJson = (text) => {
  const v = JSON.parse(text);
  if (v.type !== 'message' || v.content?.[0]?.type !== 'text' || !v.stop_reason) return 'not a message with text content and a stop_reason';
  return tokens(v.usage?.output_tokens, 'usage.output_tokens');
};
const expectResponsesJson = (text) => {
  const v = JSON.parse(text);
  const texts = (v.output ?? []).flatMap((o) => o.content ?? []).filter((c) => c.type === 'output_text');
  if (v.object !== 'response' || v.status !== 'completed' || !texts.length) return 'not a completed response with output_text';
  return tokens(v.usage?.output_tokens, 'usage.output_tokens');
};

/**
 * Issue 17's dialects: the route, the same small request non-streamed and streamed, and the check of
 * each answer. `keys` = the scenario keys of each group (d1 native is scenario 1, d3 native is 3).
 */
const DIALECTS = {
  native: { path: '/api/chat', json: bodies.chat, stream: bodies.chatStream, expectJson, expectStream: expectNdjson, keys: { d1: 's1', d2: 'd2n', d3: 's3', d4: 'd4n' } },
  openai: { path: '/v1/chat/completions', json: bodies.openaiJson, stream: bodies.openai, expectJson: expectOpenAiJson, expectStream: expectOpenAi, keys: { d1: 'd1o', d2: 'd2o', d3: 'd3o', d4: 'd4o' } },
  anthropic: { path: '/v1/messages', json: bodies.anthropicJson, stream: bodies.anthropic, expectJson: expectAnthropicJson, expectStream: expectAnthropic, keys: { d1: 'd1a', d2: 'd2a', d3: 'd3a', d4: 'd4a' } },
  responses: { path: '/v1/responses', json: bodies.responsesJson, stream: bodies.responses, expectJson: expectResponsesJson, expectStream: expectResponses, keys: { d1: 'd1r', d2: 'd2r', d3: 'd3r', d4: 'd4r' } },
};
/** The dialects a target is measured in: baselines only speak Ollama's. */
const dialectsOf = (t) => (t.def.llmproxy ? opts.dialects : ['native']);

// ------------------------------------------------------------------------------------------------
// Scenarios

/**
 * `--stalls`: what bench/event-loop-probe.mjs saw in the llmproxy process since the last call (it
 * answers SIGUSR2 by writing `<tmp>/<pid>.json` and starting over).
 */
async function eventLoopSnapshot(dir, pid) {
  const file = path.join(dir, `${pid}.json`);
  const read = () => {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      return undefined;
    }
  };
  const before = read()?.seq ?? 0;
  process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 3000; waited += 10) {
    const now = read();
    if (now && now.seq > before) return now;
    await sleep(10);
  }
  throw new Error(`the event-loop probe of pid ${pid} did not answer (was it preloaded?)`);
}

/** One measured repetition: the load function plus the server's CPU time and each core's busy share. */
async function measure(target, fn, seconds) {
  const pids = target.pids();
  const cpu0 = procCpuTicks(pids);
  const cores0 = coreTimes();
  const r = await fn(seconds);
  const ticks = procCpuTicks(pids) - cpu0;
  r.cpuUsPerReq = r.ok ? (ticks * TICK_US) / r.ok : null;
  Object.assign(r, coreBusy(cores0, coreTimes()));
  return r;
}

function medians(reps) {
  const m = {};
  for (const k of Object.keys(reps[0])) if (typeof reps[0][k] === 'number' || reps[0][k] === null) m[k] = round(median(reps.map((r) => r[k])), 3);
  m.ok = reps.reduce((a, r) => a + r.ok, 0);
  m.failed = reps.reduce((a, r) => a + r.failed, 0);
  return { ...m, reps };
}

const throughput = (pathname, body) => (target) => (seconds) =>
  cannon(target.url + pathname, { body, headers: target.headers, connections: opts.connections, duration: seconds });

const lowConcurrency = (pathname, body) => (target) => (seconds) =>
  timedRequests(target.url + pathname, { body, headers: target.headers, connections: 1, durationMs: seconds * 1000 });

/** (d2), (d3): c=1, a fixed number of requests per repetition (a tenth of it as warm-up), µs timing. */
const counted = (pathname, body) => (target) => (seconds, warmup) =>
  timedRequests(target.url + pathname, { body, headers: target.headers, connections: 1, count: warmup ? Math.ceil(opts.samples / 10) : opts.samples });

/** (d4): streams at the calibrated fixed rate over c connections; TTFB p99 is the row. */
const paced = (pathname, body, ctx) => (target) => (seconds) =>
  pacedRequests(target.url + pathname, { body, headers: target.headers, connections: opts.connections, rate: ctx.rate, durationMs: seconds * 1000 });

/**
 * (d4)'s offered rate: `--rate`, or the native stream rate that keeps the thin proxy's core `--busy` %
 * busy, from the thin proxy's CPU time per stream (scenario (2) when it ran, else 2 s of it at c=32).
 * Without a thin proxy, the first target measured stands in. Every target gets the same rate.
 */
async function calibrateRate(ctx, live, res) {
  if (opts.rate) {
    ctx.rate = opts.rate;
    res.config.d4 = { rate: ctx.rate, basis: '--rate' };
    return;
  }
  const base = live.find((t) => t.def.name === 'thin-proxy') ?? live[0];
  let cpu = base.entry.scenarios.s2?.cpuUsPerReq;
  let basis = `${base.def.name}'s scenario (2)`;
  if (!cpu) {
    const r = await measure(base.target, throughput('/api/chat', bodies.chatStream)(base.target), 2);
    cpu = r.cpuUsPerReq;
    basis = `${base.def.name}, 2 s of native streams at c=${opts.connections}`;
  }
  ctx.rate = Math.max(10, Math.round(((opts.busy / 100) * 1e6) / (cpu || 1000)));
  res.config.d4 = { rate: ctx.rate, busyTarget: opts.busy, cpuUsPerStream: round(cpu, 0), basis };
  log(`(d4) offered rate ${ctx.rate} streams/s: ${opts.busy} % of a core at ${round(cpu, 0)} µs CPU per stream (${basis})`);
}

/** (5) N concurrent streams, one chunk a second: peak RSS of the server process. */
async function slowStreams(target, ctx) {
  const controls = target.controls ?? [target.control ?? ctx.upstreamUrl];
  const n = opts.slowStreams;
  const seconds = opts.slowSeconds;
  for (const control of controls) {
    await upstreamControl(control, '/__bench/config', { chunks: seconds, delayMs: 1000 });
    await upstreamControl(control, '/__bench/stats/reset', {});
  }
  const before = procStatus(target.rssPid);
  let peakRss = before.rssKb;
  const sampler = setInterval(() => {
    const s = procStatus(target.rssPid);
    if (s.rssKb > peakRss) peakRss = s.rssKb;
  }, 200);
  const u = new URL(target.url);
  const payload = Buffer.from(bodies.chatStream);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const started = Date.now();
  const deadline = started + (seconds + 8) * 1000;
  const reqs = [];
  const firstBytes = [];
  let completed = 0;
  let failed = 0;
  const one = () =>
    new Promise((resolve) => {
      const t0 = Date.now();
      let first = 0;
      let lines = 0;
      const req = http.request(
        { host: u.hostname, port: u.port, path: '/api/chat', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length, ...target.headers } },
        (res) => {
          res.on('data', (d) => {
            if (!first) {
              first = Date.now();
              firstBytes.push(first - t0);
            }
            for (const b of d) if (b === 10) lines++;
          });
          res.on('end', () => {
            if (res.statusCode === 200 && lines === seconds + 1) completed++;
            else failed++;
            resolve();
          });
          res.on('error', () => resolve());
        },
      );
      req.on('error', () => {
        failed++;
        resolve();
      });
      reqs.push(req);
      req.end(payload);
    });
  const all = [];
  for (let i = 0; i < n; i += 100) {
    for (let j = i; j < Math.min(n, i + 100); j++) all.push(one());
    await sleep(50);
  }
  const timer = sleep(deadline - Date.now()).then(() => 'deadline');
  const outcome = await Promise.race([Promise.all(all).then(() => 'done'), timer]);
  if (outcome === 'deadline') for (const r of reqs) r.destroy();
  await Promise.race([Promise.all(all), sleep(3000)]);
  clearInterval(sampler);
  agent.destroy();
  const after = procStatus(target.rssPid);
  let maxInflight = 0; // summed over the upstreams (each one's own maximum)
  for (const control of controls) {
    maxInflight += (await upstreamControl(control, '/__bench/stats')).maxInflight;
    await upstreamControl(control, '/__bench/config', { chunks: CHUNKS, delayMs: 0 });
  }
  firstBytes.sort((a, b) => a - b);
  return {
    streams: n,
    completed,
    failed,
    startedWithin2s: firstBytes.filter((t) => t <= 2000).length,
    firstByteP50Ms: quantile(firstBytes, 0.5),
    firstByteMaxMs: firstBytes.at(-1) ?? null,
    upstreamMaxInflight: maxInflight,
    wallSeconds: round((Date.now() - started) / 1000, 1),
    rssIdleMb: round(before.rssKb / 1024, 1),
    rssPeakSampledMb: round(Math.max(peakRss, after.rssKb) / 1024, 1),
    vmHwmMb: round(after.hwmKb / 1024, 1),
  };
}

// ------------------------------------------------------------------------------------------------
// Report

function fmt(x, d = 0) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}
const pct = (a, b) => (a && b ? `${fmt((100 * a) / b)} %` : '–');

function renderMarkdown(res) {
  const T = res.targets;
  const names = Object.keys(T).filter((n) => T[n].status === 'ok');
  const s = (n, k) => T[n]?.scenarios?.[k];
  const out = [];
  const thinName = 'thin-proxy';
  out.push(
    `Run ${res.startedAt} on ${res.machine.cpu} (${res.machine.nproc} cores, ${res.machine.memGb} GB), Node ${res.machine.node}; ` +
      `${res.config.reps} × ${res.config.duration} s per measurement after ${res.config.warmup} s warm-up, medians; c=${res.config.connections}; ` +
      `${res.config.pinned ? 'server on core 0, load generator + upstream on core 1' : 'NOT pinned (taskset missing or 1 core)'}.`,
  );
  if (res.config.nodeArgs?.length) out.push(`llmproxy targets ran with \`${res.config.nodeArgs.join(' ')}\`.`);
  if (res.git) out.push(`Code: ${res.git.head}${res.git.dirtyFiles ? ` + ${res.git.dirtyFiles} uncommitted files` : ''}, dist built ${res.git.distBuiltAt ?? '?'}.`);
  if (res.loadAvgStart) out.push(`Load average (1/5/15 min) at start ${res.loadAvgStart.join(' / ')}, at end ${res.loadAvgEnd?.join(' / ')}: anything above ~0.1 is other work sharing these 2 cores. Run took ${res.elapsedSeconds} s.`);
  for (const n of Object.keys(T)) if (T[n].status !== 'ok') out.push(`\n- ${n}: ${T[n].status}${T[n].error ? ` — ${T[n].error}` : ''}`);

  const tput = (key, title, baselineKey = key) => {
    if (!names.some((n) => s(n, key))) return;
    out.push(`\n### ${title}\n`);
    out.push('| target | req/s | p50 ms | p99 ms | vs thin proxy | vs direct | server CPU µs/req | core0 / core1 busy | failed |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const n of names) {
      const r = s(n, key);
      if (!r) continue;
      out.push(
        `| ${n} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${pct(r.rps, s(thinName, baselineKey)?.rps)} | ${pct(r.rps, s('direct', baselineKey)?.rps)} | ${fmt(r.cpuUsPerReq)} | ${fmt(r.cpu0)} / ${fmt(r.cpu1)} % | ${r.failed} |`,
      );
    }
  };
  tput('s1', `(1) native /api/chat, non-streaming, c=${res.config.connections}`);
  tput('s2', `(2) native /api/chat, streaming ${CHUNKS} chunks, c=${res.config.connections} (latency = full response)`);
  if (names.some((n) => s(n, 's3'))) {
    out.push(`\n### (3) time to first byte of a stream, c=1\n`);
    out.push('| target | TTFB p50 ms | TTFB p99 ms | TTFB overhead vs direct (p50) | full stream p50 ms | failed |');
    out.push('|---|---:|---:|---:|---:|---:|');
    const d = s('direct', 's3')?.ttfbP50;
    for (const n of names) {
      const r = s(n, 's3');
      if (!r) continue;
      out.push(`| ${n} | ${fmt(r.ttfbP50, 3)} | ${fmt(r.ttfbP99, 3)} | ${d != null ? `${fmt(r.ttfbP50 - d, 3)} ms` : '–'} | ${fmt(r.p50, 3)} | ${r.failed} |`);
    }
  }
  tput('s4o', `(4a) /v1/chat/completions streaming ${CHUNKS} chunks, c=${res.config.connections} — ratios against the baselines' native stream (2)`, 's2');
  tput('s4a', `(4b) /v1/messages streaming ${CHUNKS} chunks, c=${res.config.connections} — ratios against the baselines' native stream (2)`, 's2');
  tput('s4r', `(4c) /v1/responses streaming ${CHUNKS} chunks, c=${res.config.connections} — ratios against the baselines' native stream (2)`, 's2');
  if (names.some((n) => s(n, 's5'))) {
    out.push(`\n### (5) ${res.config.slowStreams} concurrent slow streams (1 chunk/s for ${res.config.slowSeconds} s)\n`);
    out.push('| target | completed | first byte ≤ 2 s | first byte max s | upstream max in flight | idle RSS MB | peak RSS MB (VmHWM) | ≤ 200 MB |');
    out.push('|---|---:|---:|---:|---:|---:|---:|---|');
    for (const n of names) {
      const r = s(n, 's5');
      if (!r) continue;
      out.push(
        `| ${n} | ${r.completed} / ${r.streams} | ${r.startedWithin2s} | ${fmt(r.firstByteMaxMs / 1000, 1)} | ${r.upstreamMaxInflight} | ${fmt(r.rssIdleMb)} | ${fmt(r.vmHwmMb)} | ${r.vmHwmMb <= 200 ? 'yes' : 'no'} |`,
      );
    }
  }
  if (names.some((n) => s(n, 's6'))) {
    out.push(`\n### (6) Claude-Code-sized request (${fmt(res.config.claudeCodeBytes / 1024, 1)} KB /v1/messages; direct and proxies get the translated ${fmt(res.config.claudeCodeOllamaBytes / 1024, 1)} KB /api/chat), streaming ${CHUNKS} chunks, c=1\n`);
    out.push('| target | request | TTFB p50 ms | full p50 ms | full p99 ms | added vs direct (p50) | server CPU µs/req | failed |');
    out.push('|---|---|---:|---:|---:|---:|---:|---:|');
    const d = s('direct', 's6')?.p50;
    for (const n of names) {
      for (const [k, label] of [
        ['s6', T[n].llmproxy ? '/v1/messages' : '/api/chat'],
        ['s6n', '/api/chat (same body as direct)'],
      ]) {
        const r = s(n, k);
        if (!r) continue;
        out.push(`| ${n} | ${label} | ${fmt(r.ttfbP50, 2)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${d != null ? `${fmt(r.p50 - d, 2)} ms` : '–'} | ${fmt(r.cpuUsPerReq)} | ${r.failed} |`);
      }
    }
  }
  const verdicts = targetVerdicts(res);
  if (verdicts.length) {
    out.push('\n### Targets of issue 8\n');
    out.push('| target | required | measured | verdict |');
    out.push('|---|---|---|---|');
    for (const v of verdicts) out.push(`| ${v.what} | ${v.required} | ${v.measured} | ${v.met === null ? 'not measured' : v.met ? 'met' : `**missed** (${v.by})`} |`);
  }
  renderIssue17(res, out);
  renderEventLoop(res, out);
  return out.join('\n') + '\n';
}

/** `--stalls`: the event loop of each llmproxy target during each measurement (worst repetition where it says so). */
function renderEventLoop(res, out) {
  const rows = [];
  for (const [n, e] of Object.entries(res.targets)) for (const [k, v] of Object.entries(e.eventLoop ?? {})) rows.push([n, k, v]);
  if (!rows.length) return;
  out.push(`\n### Event loop during each measurement (\`--stalls\`: bench/event-loop-probe.mjs; CPU figures of this run carry its timers)\n`);
  out.push('Delay: how late a timer ran (perf_hooks histogram), median of the repetitions\' p50 and p99, and the longest in any. GC: pauses in all repetitions, count and longest. Main thread waited: of the time the main thread was ready to run, the share it spent waiting for the core (Linux schedstat; its own helper threads or another process had it). Stalls: turns over 10 ms late in all repetitions, how many overlapped a GC pause of at least half their length, how many fell in a full GC\'s pause or the 300 ms before it (its concurrent marking, on V8\'s threads), and how many the process spent mostly off the CPU (its threads used less CPU than half the stall: the machine paused, a blocking call waited, or the core was taken). With `--profile` each stall is matched to the samples of its window, printed after the run.\n');
  out.push('| target | measurement | delay p50 ms | delay p99 ms | delay max ms | scavenges (longest ms) | mark-compact (longest ms) | main thread waited for the core | stalls > 10 ms | of which GC | of which a full GC\'s marking or pause | of which off the CPU | longest stall ms |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [n, k, v] of rows) {
    const r = v.reps;
    const sum = (f) => r.reduce((a, x) => a + f(x), 0);
    const max = (f) => Math.max(...r.map(f));
    const gc = (kind) => `${sum((x) => x.gc[kind]?.count ?? 0)} (${fmt(max((x) => x.gc[kind]?.maxMs ?? 0), 1)})`;
    // Of the main thread's time ready to run, the share it waited for the core (all repetitions).
    const waited = (reps) => {
      const ran = reps.reduce((a, x) => a + (x.mainThread?.ranMs ?? NaN), 0);
      const wait = reps.reduce((a, x) => a + (x.mainThread?.waitedMs ?? NaN), 0);
      return Number.isFinite(ran + wait) && ran + wait > 0 ? `${fmt((100 * wait) / (ran + wait), 1)} %` : '–';
    };
    out.push(
      `| ${n} | ${v.label} | ${fmt(median(r.map((x) => x.delay.p50)), 2)} | ${fmt(median(r.map((x) => x.delay.p99)), 2)} | ${fmt(max((x) => x.delay.max), 1)} | ` +
        `${gc('scavenge')} | ${gc('mark-compact')} | ${waited(r)} | ${sum((x) => x.stalls.count)} | ${sum((x) => x.stalls.byGc)} | ${sum((x) => x.stalls.byFullGc ?? 0)} | ${sum((x) => x.stalls.offCpu ?? 0)} | ${fmt(max((x) => x.stalls.maxMs), 1)} |`,
    );
  }
}

/** Issue 17's rows, one line per target and dialect, then memory, then its targets: met and missed. */
function renderIssue17(res, out) {
  const T = res.targets;
  const names = Object.keys(T).filter((n) => T[n].status === 'ok');
  const s = (n, k) => (T[n]?.status === 'ok' ? T[n].scenarios?.[k] : undefined);
  const c = res.config.connections;
  const rows = [];
  for (const n of names) for (const d of T[n].llmproxy ? res.config.dialects : ['native']) rows.push([n, d, DIALECTS[d].keys]);
  const any = (g) => rows.some(([n, , keys]) => s(n, keys[g]) && !s(n, keys[g]).error);
  if (!['d1', 'd2', 'd3', 'd4'].some(any)) return;
  const nat = DIALECTS.native.keys;
  const direct = (g) => s('direct', nat[g]);
  const thin = (g) => s('thin-proxy', nat[g]);
  const added = (x, b, d, unit = ' ms') => (x != null && b != null ? `${x - b >= 0 ? '+' : ''}${fmt(x - b, d)}${unit}` : '–');
  out.push(`\n### Issue 17: every dialect (baselines get the native /api/chat request)\n`);
  out.push(
    `(a) non-streamed req/s at c=${c} and its share of the thin proxy's; (b) server CPU per non-streamed request at c=${c} and added over direct; ` +
      `(c) c=1 non-streamed latency p50 and added over direct (${res.config.samples} requests per repetition, hrtime); (c') for a translated dialect, which asks Ollama for a stream ` +
      `whatever its client asked (so that a cut answer is still metered), added over direct's whole *streamed* answer at c=1 (scenario (3)'s full-stream p50): the same upstream work; (d) c=1 time to first streamed byte p50 and added over direct ` +
      `(native: scenario (3)); (e) time to first streamed byte p99 at c=${c} under a fixed offered rate` +
      (res.config.d4 ? ` of ${fmt(res.config.d4.rate)} streams/s (${res.config.d4.busyTarget != null ? `${res.config.d4.busyTarget} % of a core at ${fmt(res.config.d4.cpuUsPerStream)} µs per stream, ${res.config.d4.basis}` : res.config.d4.basis}), and its ratio to the thin proxy's; core 0 busy during (e)` : '') +
      '.\n',
  );
  out.push(`| target | dialect | (a) req/s | (a) vs thin | (b) CPU µs/req | (b) added | (c) p50 ms | (c) added | (c') added over direct streamed | (d) TTFB p50 ms | (d) added | (e) TTFB p99 ms | (e) vs thin | (e) core0 busy | failed |`);
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [n, d, k] of rows) {
    const [a, c2, c3, c4] = [s(n, k.d1), s(n, k.d2), s(n, k.d3), s(n, k.d4)];
    const failed = [a, c2, c3, c4].reduce((x, r) => x + (r?.failed ?? 0), 0);
    const err = [a, c2, c3, c4].some((r) => r?.error) ? ' (sanity check failed)' : '';
    out.push(
      `| ${n} | ${d} | ${fmt(a?.rps)} | ${pct(a?.rps, thin('d1')?.rps)} | ${fmt(a?.cpuUsPerReq)} | ${added(a?.cpuUsPerReq, direct('d1')?.cpuUsPerReq, 0, ' µs')} | ` +
        `${fmt(c2?.p50, 3)} | ${added(c2?.p50, direct('d2')?.p50, 3)} | ${d === 'native' ? '–' : added(c2?.p50, direct('d3')?.p50, 3)} | ${fmt(c3?.ttfbP50, 3)} | ${added(c3?.ttfbP50, direct('d3')?.ttfbP50, 3)} | ` +
        `${fmt(c4?.ttfbP99, 3)} | ${c4?.ttfbP99 != null && thin('d4')?.ttfbP99 ? `${fmt(c4.ttfbP99 / thin('d4').ttfbP99, 2)}×` : '–'} | ${c4?.cpu0 != null ? `${fmt(c4.cpu0)} %` : '–'} | ${failed}${err} |`,
    );
  }
  out.push(`\n(f) memory: RSS right after startup, idle RSS after a warm-up (one request of each kind, then 100 of each measured kind at c=1, 1 s settled), and the peak of ${res.config.slowStreams} slow streams (5).\n`);
  out.push('| target | RSS after startup MB | idle RSS after warm-up MB | ≤ 110 MB | slow streams peak MB (VmHWM) | ≤ 200 MB | upstreams |');
  out.push('|---|---:|---:|---|---:|---|---|');
  for (const n of names) {
    const e = T[n];
    const s5 = s(n, 's5');
    const ups = e.upstreams ? `${e.upstreams.length}${e.upstreamRequests ? ` (requests served ${e.upstreamRequests.map((x) => fmt(x)).join(' / ')}, polls included)` : ''}` : '1';
    out.push(`| ${n} | ${fmt(e.rssStartMb)} | ${fmt(e.rssIdleMb)} | ${e.rssIdleMb != null ? (e.rssIdleMb <= 110 ? 'yes' : 'no') : '–'} | ${fmt(s5?.vmHwmMb)} | ${s5 ? (s5.vmHwmMb <= 200 ? 'yes' : 'no') : '–'} | ${e.llmproxy ? ups : '–'} |`);
  }
  const v = issue17Verdicts(res);
  if (v.length) {
    out.push('\n### Targets of issue 17: met and missed\n');
    out.push('For a missed row, the command in the last column profiles just that target, dialect and scenario (`--profile` prints self time per function and package and inclusive time of llmproxy\'s functions).\n');
    out.push('| target | dialect | row | required | measured | verdict |');
    out.push('|---|---|---|---|---|---|');
    for (const x of v) out.push(`| ${x.target} | ${x.dialect} | ${x.row} | ${x.required} | ${x.measured} | ${x.met === null ? 'not measured' : x.met ? 'met' : `**missed** (${x.by}); profile: \`${x.profile}\`` } |`);
  }
}

function issue17Verdicts(res) {
  const T = res.targets;
  const s = (n, k) => (T[n]?.status === 'ok' && !T[n].scenarios?.[k]?.error ? T[n].scenarios?.[k] : undefined);
  const nat = DIALECTS.native.keys;
  const out = [];
  const targetKey = { 'llmproxy-sqlite': 'sqlite', 'llmproxy-pg': 'pg', 'llmproxy-sqlite-multi': 'sqlite-multi' };
  for (const n of Object.keys(T).filter((x) => T[x].llmproxy && T[x].status === 'ok')) {
    for (const d of res.config.dialects) {
      const k = DIALECTS[d].keys;
      const translated = d !== 'native';
      const profile = (g) => `node bench/run.mjs --profile${g === 'd4' ? ' --stalls' : ''} --targets direct,thin,${targetKey[n] ?? n} --dialects ${d} --scenarios ${g}`;
      const push = (row, required, measured, met, by, g) => out.push({ target: n, dialect: d, row, required, measured, met, by, profile: profile(g) });
      // A repetition with no successful response is no measurement (the run exits 1): said, not judged.
      const none = (g, row, required) => {
        const r = T[n].scenarios?.[k[g]];
        if (!r || (!r.error && r.ok > 0)) return false;
        push(row, required, r.error ?? 'no successful response', null, '', g);
        return true;
      };
      const skip = new Set();
      if (none('d2', '(c) added p50 latency, c=1, non-streamed', `≤ ${translated ? 0.4 : 0.25} ms over direct`)) skip.add('d2');
      if (translated && none('d3', '(d) added time to first streamed byte, c=1', '≤ 0.5 ms over direct')) skip.add('d3');
      if (none('d1', `(a) non-streamed req/s, c=${res.config.connections}`, `≥ ${translated ? 35 : 50} % of thin proxy`)) skip.add('d1');
      if (none('d4', `(e) TTFB p99, c=${res.config.connections}`, '≤ 2 × thin proxy')) skip.add('d4');
      const c1 = skip.has('d2') ? null : s(n, k.d2)?.p50;
      const c1d = s('direct', nat.d2)?.p50;
      if (c1 != null && c1d != null) {
        const lim = translated ? 0.4 : 0.25;
        const x = c1 - c1d;
        push('(c) added p50 latency, c=1, non-streamed', `≤ ${lim} ms over direct`, `${fmt(x, 3)} ms`, x <= lim, `${fmt(x - lim, 3)} ms over`, 'd2');
      }
      const t1 = skip.has('d3') ? null : s(n, k.d3)?.ttfbP50;
      const t1d = s('direct', nat.d3)?.ttfbP50;
      if (translated && t1 != null && t1d != null) {
        const x = t1 - t1d;
        push('(d) added time to first streamed byte, c=1', '≤ 0.5 ms over direct', `${fmt(x, 3)} ms`, x <= 0.5, `${fmt(x - 0.5, 3)} ms over`, 'd3');
      }
      const r = skip.has('d1') ? null : s(n, k.d1)?.rps;
      const rt = s('thin-proxy', nat.d1)?.rps;
      if (r != null && rt) {
        const lim = translated ? 35 : 50;
        const x = (100 * r) / rt;
        push(`(a) non-streamed req/s, c=${res.config.connections}`, `≥ ${lim} % of thin proxy`, `${fmt(x)} %`, x >= lim, `${fmt(lim - x)} points short`, 'd1');
      }
      const p = skip.has('d4') ? null : s(n, k.d4)?.ttfbP99;
      const pt = s('thin-proxy', nat.d4)?.ttfbP99;
      if (p != null && pt) {
        const x = p / pt;
        push(`(e) TTFB p99, c=${res.config.connections}, core ~${res.config.d4?.busyTarget ?? '?'} % busy`, '≤ 2 × thin proxy', `${fmt(p, 3)} ms = ${fmt(x, 2)} ×`, x <= 2, `${fmt(x - 2, 2)} × over`, 'd4');
      }
    }
    const e = T[n];
    if (e.rssIdleMb != null) out.push({ target: n, dialect: 'all', row: '(f) idle RSS', required: '≤ 110 MB', measured: `${fmt(e.rssIdleMb)} MB`, met: e.rssIdleMb <= 110, by: `${fmt(e.rssIdleMb - 110)} MB over`, profile: 'memory, not CPU: see "Why 1,000 slow streams miss 200 MB" in bench/README.md' });
    const s5 = s(n, 's5');
    if (s5) out.push({ target: n, dialect: 'native', row: `(f) ${s5.streams} slow streams`, required: '≤ 200 MB RSS', measured: `${fmt(s5.vmHwmMb)} MB`, met: s5.vmHwmMb <= 200, by: `${fmt(s5.vmHwmMb - 200)} MB over`, profile: 'memory, not CPU: see "Why 1,000 slow streams miss 200 MB" in bench/README.md' });
  }
  return out;
}

function targetVerdicts(res) {
  const T = res.targets;
  const s = (n, k) => (T[n]?.status === 'ok' ? T[n].scenarios?.[k] : undefined);
  const thin = (k) => s('thin-proxy', k)?.rps;
  const out = [];
  const ratio = (n, k, min, label) => {
    const r = s(n, k)?.rps;
    const b = thin(k);
    if (r == null || b == null) return;
    const v = (100 * r) / b;
    out.push({ what: `${n} ${label}`, required: `≥ ${min} % of thin proxy`, measured: `${fmt(v)} %`, met: v >= min, by: `${fmt(min - v)} points short` });
  };
  ratio('llmproxy-sqlite', 's1', 50, 'non-streaming');
  ratio('llmproxy-sqlite', 's2', 70, 'streaming');
  const tt = s('llmproxy-sqlite', 's3')?.ttfbP50;
  const td = s('direct', 's3')?.ttfbP50;
  if (tt != null && td != null) {
    const o = tt - td;
    out.push({ what: 'llmproxy-sqlite TTFB overhead (p50, c=1)', required: '≤ 1 ms over direct', measured: `${fmt(o, 3)} ms`, met: o <= 1, by: `${fmt(o - 1, 3)} ms over` });
  }
  ratio('llmproxy-pg', 's1', 30, 'non-streaming');
  ratio('llmproxy-pg', 's2', 50, 'streaming');
  for (const n of ['llmproxy-sqlite', 'llmproxy-pg']) {
    const r = s(n, 's5');
    if (!r) continue;
    const note = r.completed < r.streams ? `; ${r.completed}/${r.streams} completed in ${res.config.slowSeconds + 8} s, upstream saw at most ${r.upstreamMaxInflight} at once` : '';
    out.push({ what: `${n} ${r.streams} slow streams`, required: '≤ 200 MB RSS', measured: `${fmt(r.vmHwmMb)} MB${note}`, met: r.vmHwmMb <= 200, by: `${fmt(r.vmHwmMb - 200)} MB over` });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.cpus().length,
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    memGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
  };
}

async function main() {
  if (!fs.existsSync(GATEWAY_MAIN) && opts.targets.some((t) => t === 'sqlite' || t === 'pg')) {
    throw new Error(`${path.relative(ROOT, GATEWAY_MAIN)} is missing: run \`npm run build\` first`);
  }
  fs.mkdirSync(opts.out, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmproxy-bench-'));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const claudeCode = opts.scenarios.includes('s6') ? await loadClaudeCode() : null;
  const res = {
    startedAt: new Date().toISOString(),
    machine: machine(),
    config: {
      ...opts,
      out: undefined,
      pinned: canPin,
      chunks: CHUNKS,
      claudeCodeBytes: claudeCode ? Buffer.byteLength(claudeCode.anthropic) : null,
      claudeCodeOllamaBytes: claudeCode ? Buffer.byteLength(claudeCode.ollama) : null,
    },
    targets: {},
  };
  const t0 = Date.now();
  res.loadAvgStart = os.loadavg().map((x) => round(x));
  const git = (...a) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  res.git = { head: git('rev-parse', '--short', 'HEAD'), dirtyFiles: git('status', '--porcelain').split('\n').filter(Boolean).length };
  if (fs.existsSync(GATEWAY_MAIN)) res.git.distBuiltAt = fs.statSync(GATEWAY_MAIN).mtime.toISOString();
  log(`bench: logs in ${tmp}; results in ${path.relative(process.cwd(), opts.out) || '.'}`);

  const upstream = startProcess('upstream', LOAD_CORE, process.execPath, [path.join(HERE, 'upstream.mjs'), '--port', '0', '--chunks', String(CHUNKS)], {
    readyLine: true,
    logFile: path.join(tmp, 'upstream.log'),
  });
  const upstreamUrl = `http://127.0.0.1:${(await upstream.ready).listening}`;
  const ctx = { upstreamUrl, tmp };
  const defs = makeTargets(ctx);
  let broken = false;

  // Start every target (each idles while another is measured), check each kind of request once.
  const live = []; // { key, def, entry, target, failedChecks }
  try {
    for (const key of opts.targets) {
      const def = defs[key];
      if (!def) throw new Error(`unknown target ${key} (direct, thin, nginx, sqlite, pg)`);
      const entry = { status: 'ok', llmproxy: !!def.llmproxy, scenarios: {}, warnings: [] };
      res.targets[def.name] = entry;
      let target;
      try {
        target = await def.start();
      } catch (error) {
        entry.status = key === 'pg' && /ECONNREFUSED|connect|password|database "postgres"/i.test(error.message) ? 'skipped (PostgreSQL unreachable)' : 'failed to start';
        entry.error = error.message;
        log(`${def.name}: ${entry.status}: ${error.message}`);
        if (entry.status === 'failed to start') broken = true;
        continue;
      }
      if (target === null) {
        entry.status = 'skipped (not installed)';
        log(`${def.name}: not installed; skipped`);
        continue;
      }
      entry.rssStartMb = target.rssPid ? round(procStatus(target.rssPid).rssKb / 1024, 1) : null;
      // One request of each kind (every dialect non-streamed and streamed on llmproxy): a failed check
      // keeps the scenarios that send that request (keys) from running on this target.
      const checks = [];
      for (const d of def.llmproxy ? Object.keys(DIALECTS) : ['native']) {
        const D = DIALECTS[d];
        checks.push([[D.keys.d1, D.keys.d2], D.path, D.json, D.expectJson]);
        checks.push([[D.keys.d3, D.keys.d4, ...(d === 'native' ? ['s2'] : d === 'openai' ? ['s4o'] : d === 'anthropic' ? ['s4a'] : ['s4r'])], D.path, D.stream, D.expectStream]);
      }
      if (claudeCode) checks.push(def.llmproxy ? [['s6'], '/v1/messages', claudeCode.anthropic, expectAnthropic] : [['s6', 's6n'], '/api/chat', claudeCode.ollama, expectNdjson]);
      const failedChecks = new Set();
      for (const [keys, p, b, e] of checks) {
        const problem = await check(target, p, b, e);
        if (!problem) continue;
        const kind = b.includes('"stream":true') ? 'streamed' : 'non-streamed';
        entry.warnings.push(`${p} ${kind}: ${problem}`);
        log(`${def.name}: check ${p} ${kind}: ${problem}`);
        if (!problem.startsWith('warning')) {
          for (const k of keys) failedChecks.add(k);
          broken = true;
        }
      }
      // (f) idle RSS: after startup and a warm-up (the checks above, then 100 requests of each kind
      // this target is measured in, c=1), settled for a second.
      if (target.rssPid && opts.scenarios.some((k) => k.startsWith('d'))) {
        for (const d of def.llmproxy ? opts.dialects : ['native']) {
          const D = DIALECTS[d];
          for (const b of [D.json, D.stream]) await timedRequests(target.url + D.path, { body: b, headers: target.headers, count: opts.smoke ? 5 : 100 });
        }
        await sleep(opts.smoke ? 100 : 1000);
        entry.rssIdleMb = round(procStatus(target.rssPid).rssKb / 1024, 1);
      }
      if (target.upstreamList) entry.upstreams = target.upstreamList;
      log(`${def.name}: started at ${target.url}`);
      live.push({ key, def, entry, target, failedChecks });
    }

    const describe = (r) =>
      r.streams !== undefined
        ? `${r.completed}/${r.streams} completed, upstream max in flight ${r.upstreamMaxInflight}, RSS idle ${r.rssIdleMb} MB, peak ${r.vmHwmMb} MB`
        : r.ttfbP50 !== undefined
          ? `TTFB p50 ${round(r.ttfbP50, 3)} ms, full p50 ${round(r.p50, 3)} ms, ${round(r.rps, 0)} req/s, CPU ${round(r.cpuUsPerReq, 0)} µs/req, failed ${r.failed}`
          : `${round(r.rps, 0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, CPU ${round(r.cpuUsPerReq, 0)} µs/req, cores ${r.cpu0}/${r.cpu1} %, failed ${r.failed}`;

    // (5) first, while each process is fresh, so VmHWM is the peak of the slow streams alone.
    if (opts.scenarios.includes('s5')) {
      for (const t of live.filter((t) => t.def.slow)) {
        const warm = await timedRequests(t.target.url + '/api/chat', { body: bodies.chatStream, headers: t.target.headers, connections: 4, durationMs: 300 });
        if (warm.ok === 0) broken = true;
        const r = await slowStreams(t.target, ctx);
        if (r.completed === 0) broken = true;
        t.entry.scenarios.s5 = r;
        log(`${t.def.name} (5) ${opts.slowStreams} slow streams: ${describe(r)}`);
      }
    }

    // The others round-robin: each repetition visits every target in turn, so what else this machine
    // is doing meanwhile spreads over all targets instead of landing on one.
    // [key, label, applies to target, make(target, t) → (seconds, warmup?) → result, groups (default: the key's first two characters)]
    const inDialect = (d) => (t) => dialectsOf(t).includes(d);
    const perDialect = (group, label, make) =>
      Object.entries(DIALECTS)
        .filter(([d]) => !(d === 'native' && (group === 'd1' || group === 'd3'))) // those are scenarios (1) and (3)
        .map(([d, D]) => [D.keys[group], `(${group}) ${D.path} ${label}`, inDialect(d), make(D)]);
    const scenarios = [
      ['s1', '(1) /api/chat non-streaming', (t) => !t.def.llmproxy || opts.dialects.includes('native') || opts.scenarios.includes('s1'), throughput('/api/chat', bodies.chat), ['s1', 'd1']],
      ['s2', '(2) /api/chat streaming', () => true, throughput('/api/chat', bodies.chatStream)],
      ['s3', '(3) TTFB c=1', (t) => !t.def.llmproxy || opts.dialects.includes('native') || opts.scenarios.includes('s3'), lowConcurrency('/api/chat', bodies.chatStream), ['s3', 'd3']],
      ['s4o', '(4a) /v1/chat/completions', (t) => t.def.llmproxy, throughput('/v1/chat/completions', bodies.openai)],
      ['s4a', '(4b) /v1/messages', (t) => t.def.llmproxy, throughput('/v1/messages', bodies.anthropic)],
      ['s4r', '(4c) /v1/responses', (t) => t.def.llmproxy, throughput('/v1/responses', bodies.responses)],
      ...perDialect('d1', `non-streamed c=${opts.connections}`, (D) => throughput(D.path, D.json)),
      ...perDialect('d2', `non-streamed c=1 (${opts.samples} requests)`, (D) => counted(D.path, D.json)),
      ...perDialect('d3', `streamed c=1 (${opts.samples} requests)`, (D) => counted(D.path, D.stream)),
      ...perDialect('d4', `streamed c=${opts.connections}, fixed rate`, (D) => paced(D.path, D.stream, ctx)),
      ...(claudeCode
        ? [
            ['s6', '(6) 90 KB Claude Code request', () => true, (target, t) => (t.def.llmproxy ? lowConcurrency('/v1/messages', claudeCode.anthropic)(target) : lowConcurrency('/api/chat', claudeCode.ollama)(target))],
            ['s6n', '(6n) the same, translated, to /api/chat', (t) => t.def.llmproxy && !opts.smoke, lowConcurrency('/api/chat', claudeCode.ollama)],
          ]
        : []),
    ];
    for (const [k, label, applies, make, groups = [k.slice(0, 2)]] of scenarios) {
      if (!groups.some((g) => opts.scenarios.includes(g))) continue;
      const runs = live.filter((t) => applies(t) && !t.failedChecks.has(k));
      for (const t of live.filter((t) => applies(t) && t.failedChecks.has(k))) t.entry.scenarios[k] = { error: 'sanity check failed' };
      if (!runs.length) continue;
      if (k.startsWith('d4') && ctx.rate == null) await calibrateRate(ctx, live, res);
      const fns = new Map(runs.map((t) => [t, make(t.target, t)]));
      if (opts.warmup > 0) for (const t of runs) await fns.get(t)(opts.warmup, true);
      const reps = new Map(runs.map((t) => [t, []]));
      for (let i = 0; i < opts.reps; i++) {
        for (const t of runs) {
          await t.target.eventLoop?.(); // starts the probe's interval over
          reps.get(t).push(await measure(t.target, fns.get(t), opts.duration));
          if (t.target.eventLoop) ((t.entry.eventLoop ??= {})[k] ??= { label, reps: [] }).reps.push(await t.target.eventLoop());
        }
      }
      for (const t of runs) {
        const r = medians(reps.get(t));
        t.entry.scenarios[k] = r;
        if (r.ok === 0) broken = true;
        log(`${t.def.name} ${label}: ${describe(r)}`);
      }
    }
    for (const t of live) if (t.target.rssPid) t.entry.rssEndMb = round(procStatus(t.target.rssPid).rssKb / 1024, 1);
    // With several upstreams: how many requests each one served (did the scheduler spread them?).
    for (const t of live) if (t.target.controls) t.entry.upstreamRequests = await Promise.all(t.target.controls.map(async (u) => (await upstreamControl(u, '/__bench/stats')).requests));
  } finally {
    for (const t of live) await t.target.stop();
  }
  await stopProcess(upstream);
  res.elapsedSeconds = Math.round((Date.now() - t0) / 1000);
  res.loadAvgEnd = os.loadavg().map((x) => round(x));

  const md = renderMarkdown(res);
  const prefix = opts.smoke ? 'smoke' : opts.profile ? 'profile' : 'bench';
  fs.writeFileSync(path.join(opts.out, `${prefix}-${stamp}.json`), JSON.stringify(res, null, 2));
  fs.writeFileSync(path.join(opts.out, `${prefix}-latest.json`), JSON.stringify(res, null, 2));
  fs.writeFileSync(path.join(opts.out, `${prefix}-latest.md`), md);

  if (opts.profile) {
    const { summarizeDir, attributeStalls, mainThreadProfiles } = await import('./profile-summary.mjs');
    for (const [name, entry] of Object.entries(res.targets)) {
      const dir = path.join(opts.out, 'profiles', name);
      if (!fs.existsSync(dir)) continue;
      console.log(`\n## CPU profile: ${name}\n\n${summarizeDir(dir)}`);
      // Each stall labelled with its measurement, repetition and seconds into the repetition.
      const stalls = Object.values(entry.eventLoop ?? {}).flatMap((m) =>
        m.reps.flatMap((r, i) => (r.stalls.list ?? []).map(([due, late, cpuMs, runMs, waitMs]) => [due, late, cpuMs, `${m.label.split(' ').slice(0, 2).join(' ')} rep ${i + 1}, ${((due - r.stalls.since) / 1e6).toFixed(2)} s`, runMs, waitMs])),
      );
      const majorGcs = Object.values(entry.eventLoop ?? {}).flatMap((m) => m.reps.flatMap((r) => r.stalls.majorGc ?? []));
      if (opts.stalls) console.log(`\n## Event-loop stalls of ${name}, matched to its profile\n\n${attributeStalls(mainThreadProfiles(dir), stalls, 3, majorGcs)}`);
    }
  }

  if (opts.smoke) {
    const T = res.targets;
    const bits = [];
    for (const [n, e] of Object.entries(T)) {
      if (e.status !== 'ok') {
        bits.push(`${n} ${e.status}`);
        continue;
      }
      const sc = e.scenarios;
      const f = (k, label) => (sc[k]?.rps != null ? `${label} ${fmt(sc[k].rps)}/s` : sc[k]?.error ? `${label} FAILED` : null);
      bits.push(
        `${n}: ` +
          [
            f('s1', 'chat'),
            f('s2', 'stream'),
            f('s4o', 'openai'),
            f('s4a', 'anthropic'),
            f('s4r', 'responses'),
            sc.s6?.p50 != null ? `90KB p50 ${fmt(sc.s6.p50, 1)} ms` : null,
            ...Object.entries(DIALECTS)
              .filter(([, D]) => sc[D.keys.d2])
              .map(([d, D]) => (sc[D.keys.d2].error ? `c=1 ${d} FAILED` : `c=1 ${d} p50 ${fmt(sc[D.keys.d2].p50, 2)} ms`)),
          ]
            .filter(Boolean)
            .join(', '),
      );
    }
    console.log(`bench:smoke ${broken ? 'FAILED' : 'ok'} (${res.elapsedSeconds} s) — ${bits.join('; ')}`);
    if (broken) {
      for (const [n, e] of Object.entries(T)) for (const w of [...(e.error ? [e.error] : []), ...e.warnings]) console.error(`  ${n}: ${w}`);
    }
  } else {
    console.log(`\n${md}`);
    log(`bench: ${res.elapsedSeconds} s; ${path.relative(process.cwd(), path.join(opts.out, `${prefix}-latest.md`))}`);
  }
  if (broken || process.env.BENCH_KEEP_LOGS === '1') console.error(`bench: logs kept in ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
  process.exitCode = broken ? 1 : 0;
}

// ------------------------------------------------------------------------------------------------

export { startProcess, stopProcess, stopAll, freePort, waitForHttp, median, quantile, round, fmt, machine, canPin, SERVER_CORE, LOAD_CORE, GATEWAY_MAIN, ROOT };

if (!isMain) {
  // imported for the helpers above
} else if (canPin && !process.env.BENCH_PINNED) {
  const child = spawn('taskset', ['-c', LOAD_CORE, process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  // Interrupted (Ctrl-C, or the pinning wrapper passing on a SIGTERM): end the servers it started too.
  for (const sig of ['SIGINT', 'SIGTERM'])
    process.on(sig, () => {
      stopAll();
      process.exit(130);
    });
  main().catch((error) => {
    console.error(`bench: ${error?.stack ?? error}`);
    stopAll();
    process.exit(2);
  });
}
