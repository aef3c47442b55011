// Issue 17: N (1000) slow /api/chat streams of SECS (30) chunks, one a second, through a gateway started
// as bench/run.mjs starts it, not pinned. Waits until the upstream has all N open however slow the
// machine, reads the probe there, and prints idle RSS, RSS with all open, VmHWM at the end. Run from the
// repository root after `npm run build`:  node bench/memory/streams.mjs
// Env: DB, NODE_ARGS as idle.mjs; SNAP=1 with NODE_ARGS=--heapsnapshot-signal=SIGHUP writes heap
// snapshots (idle, all open) to bench/memory/*.heapsnapshot for snapshot-diff.mjs (not to be committed).
// machine), probes memory there, then reports VmHWM at the end. Not pinned.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, startGateway, createKey } from '../run.mjs';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const N = Number(process.env.N ?? 1000);
const SECONDS = Number(process.env.SECS ?? 30);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memstreams-'));
const nodeArgs = (process.env.NODE_ARGS ?? '').split(' ').filter(Boolean);
const probeOut = path.join(tmp, 'probe.jsonl');
const up = startProcess('upstream', '1', process.execPath, ['bench/upstream.mjs', '--port', '0', '--chunks', '50'], { readyLine: true, logFile: path.join(tmp, 'up.log') });
const upstreamUrl = `http://127.0.0.1:${(await up.ready).listening}`;
const ctl = async (p, b) => (await fetch(upstreamUrl + p, b === undefined ? {} : { method: 'POST', body: JSON.stringify(b) })).json();
const gw = await startGateway({ label: 'gw', tmp, upstreamUrl, databaseUrl: process.env.DB, nodeArgs: ['--import', fileURLToPath(new URL('./probe.mjs', import.meta.url)), ...nodeArgs], env: { PROBE_OUT: probeOut } });
let probes = 0;
const probe = async (label) => { process.kill(gw.pid, 'SIGUSR2'); probes++; for (let i = 0; i < 200; i++) { await sleep(100); const ls = fs.existsSync(probeOut) ? fs.readFileSync(probeOut, 'utf8').trim().split('\n') : []; if (ls.length >= probes) { const j = JSON.parse(ls.at(-1)); console.log(label, `rss ${j.rss} heapUsed ${j.heapUsed} heapTotal ${j.heapTotal} external ${j.external} new ${j.spaces.new_space} old ${j.spaces.old_space} hwm ${j.hwm}`); return j; } } throw new Error('no probe'); };
const key = await createKey(gw, { name: 'mem' });
const MODEL = 'bench:latest';
const msgs = [{ role: 'system', content: 'You are a helpful assistant. Answer briefly.' }, { role: 'user', content: 'Write a short story about a quick brown fox and a lazy dog.' }];
const send = async (p, body) => { const r = await fetch(gw.url + p, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }); await r.text(); return r.status; };
await send('/api/chat', { model: MODEL, messages: msgs, stream: false, options: { num_predict: 1024 } });
await send('/api/chat', { model: MODEL, messages: msgs, stream: true, options: { num_predict: 1024 } });
await send('/v1/chat/completions', { model: MODEL, messages: msgs, stream: true, max_tokens: 1024 });
await send('/v1/messages', { model: MODEL, max_tokens: 1024, system: msgs[0].content, messages: [msgs[1]], stream: true });
await sleep(2000);
const idle = await probe('idle');
const snap = async (label) => { if (!process.env.SNAP) return; const before = new Set(fs.readdirSync('.').filter((f) => f.endsWith('.heapsnapshot'))); process.kill(gw.pid, 'SIGHUP'); for (let i = 0; i < 600; i++) { await sleep(500); const f = fs.readdirSync('.').filter((x) => x.endsWith('.heapsnapshot') && !before.has(x)); if (f.length) { await sleep(3000); fs.renameSync(f[0], `bench/memory/${label}.heapsnapshot`); console.log('snapshot', label); return; } } };
await snap('idle');
await ctl('/__bench/config', { chunks: SECONDS, delayMs: 1000 });
await ctl('/__bench/stats/reset', {});
const payload = Buffer.from(JSON.stringify({ model: MODEL, messages: msgs, stream: true, options: { num_predict: 1024 } }));
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
let ok = 0, bad = 0;
const one = () => new Promise((resolve) => {
  let lines = 0;
  const req = http.request({ host: '127.0.0.1', port: new URL(gw.url).port, path: '/api/chat', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length, authorization: `Bearer ${key}` } }, (res) => {
    res.on('data', (d) => { for (const b of d) if (b === 10) lines++; });
    res.on('end', () => { if (res.statusCode === 200 && lines === SECONDS + 1) ok++; else bad++; resolve(); });
    res.on('error', () => { bad++; resolve(); });
  });
  req.on('error', () => { bad++; resolve(); });
  req.end(payload);
});
const all = [];
const t0 = Date.now();
for (let i = 0; i < N; i += 100) { for (let j = i; j < Math.min(N, i + 100); j++) all.push(one()); await sleep(50); }
let inflight = 0;
for (let i = 0; i < 600; i++) { const s = await ctl('/__bench/stats'); inflight = s.inflight ?? s.inFlight ?? 0; if (inflight >= N) break; await sleep(100); }
const open = await probe(`all ${inflight} open after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
await snap('open');
await Promise.all(all);
const end = await probe('after');
console.log(JSON.stringify({ args: nodeArgs.join(' '), db: process.env.DB ? 'pg' : 'sqlite', idleRss: idle.rss, openRss: open.rss, perStreamKb: Math.round(((open.heapUsed - idle.heapUsed) * 1024) / N), hwm: end.hwm, ok, bad, secs: ((Date.now() - t0) / 1000).toFixed(1) }));
await gw.stop(); up.child.kill();
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(0);
