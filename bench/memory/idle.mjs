// Issue 17: idle memory of a gateway started as bench/run.mjs starts it. Run from the repository root
// after `npm run build`:  node bench/memory/idle.mjs
// Env: DB=postgres://… (default SQLite), NODE_ARGS="--max-semi-space-size=2", NO_ANTHROPIC=1 (skip the
// /v1/messages request, which loads tiktoken), COUNT=1 (then one count_tokens), KEEP=1 (keep the temp dir).
// Prints bench/memory/probe.mjs's figures after startup, after the requests and 10 s later.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, stopAll, startGateway, createKey } from '../run.mjs';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'memidle-'));
const nodeArgs = (process.env.NODE_ARGS ?? '').split(' ').filter(Boolean);
const probeOut = path.join(tmp, 'probe.jsonl');
const up = startProcess('upstream', '1', process.execPath, ['bench/upstream.mjs', '--port', '0', '--chunks', '50'], { readyLine: true, logFile: path.join(tmp, 'up.log') });
const upstreamUrl = `http://127.0.0.1:${(await up.ready).listening}`;
const gw = await startGateway({ label: 'gw', tmp, upstreamUrl, databaseUrl: process.env.DB, nodeArgs: ['--import', fileURLToPath(new URL('./probe.mjs', import.meta.url)), ...nodeArgs], env: { PROBE_OUT: probeOut } });
const status = () => { const s = fs.readFileSync(`/proc/${gw.pid}/status`, 'utf8'); return Math.round(Number(s.match(/VmRSS:\s+(\d+)/)[1]) / 1024); };
let probes = 0; const probe = async (label) => { process.kill(gw.pid, 'SIGUSR2'); probes++; for (let i = 0; i < 100; i++) { await sleep(100); const ls = fs.existsSync(probeOut) ? fs.readFileSync(probeOut, 'utf8').trim().split('\n') : []; if (ls.length >= probes) { console.log(label, ls.at(-1)); return JSON.parse(ls.at(-1)); } } throw new Error('no probe'); };
await sleep(1000);
await probe('started');
const key = await createKey(gw, { name: 'mem' });
const MODEL = 'bench:latest';
const msgs = [{ role: 'system', content: 'You are a helpful assistant. Answer briefly.' }, { role: 'user', content: 'Write a short story about a quick brown fox and a lazy dog.' }];
const send = async (p, body) => { const r = await fetch(gw.url + p, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }); await r.text(); return r.status; };
const st = [];
st.push(await send('/api/chat', { model: MODEL, messages: msgs, stream: false, options: { num_predict: 1024 } }));
st.push(await send('/api/chat', { model: MODEL, messages: msgs, stream: true, options: { num_predict: 1024 } }));
st.push(await send('/v1/chat/completions', { model: MODEL, messages: msgs, stream: true, max_tokens: 1024 }));
if (!process.env.NO_ANTHROPIC) st.push(await send('/v1/messages', { model: MODEL, max_tokens: 1024, system: msgs[0].content, messages: [msgs[1]], stream: true }));
console.log('statuses', st.join(','));
await sleep(2000);
await probe('after requests');
if (process.env.COUNT) { st.push(await send('/v1/messages/count_tokens', { model: MODEL, messages: [msgs[1]] })); console.log('count', st.at(-1)); await sleep(1000); await probe('after count_tokens'); }
await sleep(8000);
await probe('idle +10s');
await gw.stop(); await stopAll?.(); up.child.kill();
if (!process.env.KEEP) fs.rmSync(tmp, { recursive: true, force: true }); else console.log(tmp);
process.exit(0);
