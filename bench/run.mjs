#!/usr/bin/env node
/**
 * llmproxy's overhead, side by side with a direct upstream, a thin Node proxy and nginx (see
 * bench/README.md). One command: `npm run bench` (= build, then `node bench/run.mjs`).
 *
 *   node bench/run.mjs [--targets direct,thin,nginx,sqlite,pg] [--scenarios s1,s2,s3,s4,s5,s6]
 *                      [--duration 4] [--reps 3] [--warmup 1] [--connections 32]
 *                      [--slow-streams 1000] [--slow-seconds 30] [--profile] [--smoke]
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
    targets: ['direct', 'thin', 'nginx', 'sqlite', 'pg'],
    scenarios: ['s1', 's2', 's3', 's4', 's5', 's6'],
    duration: 4,
    reps: 3,
    warmup: 1,
    connections: 32,
    slowStreams: 1000,
    slowSeconds: 30,
    profile: false,
    smoke: false,
    out: path.join(HERE, 'results'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--targets') o.targets = next().split(',');
    else if (a === '--scenarios') o.scenarios = next().split(',');
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--reps') o.reps = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--connections') o.connections = Number(next());
    else if (a === '--slow-streams') o.slowStreams = Number(next());
    else if (a === '--slow-seconds') o.slowSeconds = Number(next());
    else if (a === '--profile') o.profile = true;
    else if (a === '--out') o.out = path.resolve(next());
    else if (a === '--smoke') o.smoke = true;
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 14).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.smoke) {
    // Seconds, no thresholds: proves every piece still starts and answers.
    o.targets = argv.includes('--targets') ? o.targets : ['direct', 'sqlite'];
    o.scenarios = argv.includes('--scenarios') ? o.scenarios : ['s1', 's2', 's4', 's6'];
    o.duration = argv.includes('--duration') ? o.duration : 1;
    o.reps = argv.includes('--reps') ? o.reps : 1;
    o.warmup = argv.includes('--warmup') ? o.warmup : 0;
    o.connections = argv.includes('--connections') ? o.connections : 8;
  }
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
async function timedRequests(url, { body, headers, connections = 1, durationMs }) {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const payload = Buffer.from(body);
  const ttfb = [];
  const total = [];
  let failed = 0;
  const one = () =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      let first = 0n;
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': payload.length, ...headers },
        },
        (res) => {
          res.on('data', () => {
            if (!first) first = process.hrtime.bigint();
          });
          res.on('end', () => {
            const t2 = process.hrtime.bigint();
            if (res.statusCode === 200 && first) {
              ttfb.push(Number(first - t0) / 1e6);
              total.push(Number(t2 - t0) / 1e6);
            } else failed++;
            resolve();
          });
          res.on('error', () => {
            failed++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end(payload);
    });
  const started = Date.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) await one();
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
  const gateway = (label, dbKind) => ({
    name: label,
    llmproxy: true,
    slow: true,
    async start() {
      let db;
      let databaseUrl;
      if (dbKind === 'sqlite') databaseUrl = `sqlite:///${path.join(tmp, `${label}.db`)}`;
      else {
        db = await createPgDatabase();
        databaseUrl = db.url;
      }
      const nodeArgs = [];
      if (opts.profile) {
        const dir = path.join(opts.out, 'profiles', label);
        fs.rmSync(dir, { recursive: true, force: true }); // this run's profile only
        fs.mkdirSync(dir, { recursive: true });
        nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
      }
      let gateway;
      try {
        gateway = await startGateway({ label, tmp, databaseUrl, upstreamUrl, nodeArgs });
        const key = await createKey(gateway, { name: 'bench' });
        return {
          url: gateway.url,
          pids: () => [gateway.pid],
          rssPid: gateway.pid,
          headers: { authorization: `Bearer ${key}` },
          async stop() {
            await gateway.stop();
            if (db) await db.drop().catch((e) => log(`  could not drop ${db.url}: ${e.message}`));
          },
        };
      } catch (error) {
        await gateway?.stop();
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
  };
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

// ------------------------------------------------------------------------------------------------
// Scenarios

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

/** (5) N concurrent streams, one chunk a second: peak RSS of the server process. */
async function slowStreams(target, ctx) {
  const control = target.control ?? ctx.upstreamUrl;
  const n = opts.slowStreams;
  const seconds = opts.slowSeconds;
  await upstreamControl(control, '/__bench/config', { chunks: seconds, delayMs: 1000 });
  await upstreamControl(control, '/__bench/stats/reset', {});
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
  const stats = await upstreamControl(control, '/__bench/stats');
  await upstreamControl(control, '/__bench/config', { chunks: CHUNKS, delayMs: 0 });
  firstBytes.sort((a, b) => a - b);
  return {
    streams: n,
    completed,
    failed,
    startedWithin2s: firstBytes.filter((t) => t <= 2000).length,
    firstByteP50Ms: quantile(firstBytes, 0.5),
    firstByteMaxMs: firstBytes.at(-1) ?? null,
    upstreamMaxInflight: stats.maxInflight,
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
  return out.join('\n') + '\n';
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
      const checks = [
        ['s1', '/api/chat', bodies.chat, expectJson],
        ['s2', '/api/chat', bodies.chatStream, expectNdjson],
        ...(def.llmproxy
          ? [
              ['s4o', '/v1/chat/completions', bodies.openai, expectOpenAi],
              ['s4a', '/v1/messages', bodies.anthropic, expectAnthropic],
            ]
          : []),
        ...(claudeCode ? [def.llmproxy ? ['s6', '/v1/messages', claudeCode.anthropic, expectAnthropic] : ['s6', '/api/chat', claudeCode.ollama, expectNdjson]] : []),
      ];
      const failedChecks = new Set();
      for (const [k, p, b, e] of checks) {
        const problem = await check(target, p, b, e);
        if (!problem) continue;
        entry.warnings.push(`${p}: ${problem}`);
        log(`${def.name}: check ${p}: ${problem}`);
        if (!problem.startsWith('warning')) {
          failedChecks.add(k);
          broken = true;
        }
      }
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
    const scenarios = [
      ['s1', '(1) /api/chat non-streaming', () => true, throughput('/api/chat', bodies.chat)],
      ['s2', '(2) /api/chat streaming', () => true, throughput('/api/chat', bodies.chatStream)],
      ['s3', '(3) TTFB c=1', () => true, lowConcurrency('/api/chat', bodies.chatStream)],
      ['s4o', '(4a) /v1/chat/completions', (t) => t.def.llmproxy, throughput('/v1/chat/completions', bodies.openai)],
      ['s4a', '(4b) /v1/messages', (t) => t.def.llmproxy, throughput('/v1/messages', bodies.anthropic)],
      ...(claudeCode
        ? [
            ['s6', '(6) 90 KB Claude Code request', () => true, (target, t) => (t.def.llmproxy ? lowConcurrency('/v1/messages', claudeCode.anthropic)(target) : lowConcurrency('/api/chat', claudeCode.ollama)(target))],
            ['s6n', '(6n) the same, translated, to /api/chat', (t) => t.def.llmproxy && !opts.smoke, lowConcurrency('/api/chat', claudeCode.ollama)],
          ]
        : []),
    ];
    for (const [k, label, applies, make] of scenarios) {
      if (!opts.scenarios.includes(k.slice(0, 2))) continue;
      const runs = live.filter((t) => applies(t) && !t.failedChecks.has(k));
      for (const t of live.filter((t) => applies(t) && t.failedChecks.has(k))) t.entry.scenarios[k] = { error: 'sanity check failed' };
      if (!runs.length) continue;
      const fns = new Map(runs.map((t) => [t, make(t.target, t)]));
      if (opts.warmup > 0) for (const t of runs) await fns.get(t)(opts.warmup);
      const reps = new Map(runs.map((t) => [t, []]));
      for (let i = 0; i < opts.reps; i++) for (const t of runs) reps.get(t).push(await measure(t.target, fns.get(t), opts.duration));
      for (const t of runs) {
        const r = medians(reps.get(t));
        t.entry.scenarios[k] = r;
        if (r.ok === 0) broken = true;
        log(`${t.def.name} ${label}: ${describe(r)}`);
      }
    }
    for (const t of live) if (t.target.rssPid) t.entry.rssEndMb = round(procStatus(t.target.rssPid).rssKb / 1024, 1);
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
    const { summarizeDir } = await import('./profile-summary.mjs');
    for (const name of Object.keys(res.targets)) {
      const dir = path.join(opts.out, 'profiles', name);
      if (fs.existsSync(dir)) console.log(`\n## CPU profile: ${name}\n\n${summarizeDir(dir)}`);
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
          [f('s1', 'chat'), f('s2', 'stream'), f('s4o', 'openai'), f('s4a', 'anthropic'), sc.s6?.p50 != null ? `90KB p50 ${fmt(sc.s6.p50, 1)} ms` : null]
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
  if (broken) console.error(`bench: logs kept in ${tmp}`);
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
  main().catch((error) => {
    console.error(`bench: ${error?.stack ?? error}`);
    stopAll();
    process.exit(2);
  });
}
