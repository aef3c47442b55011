#!/usr/bin/env node
/**
 * Self time of a V8 .cpuprofile (`node --cpu-prof`), by function and by where the code lives.
 *
 *   node bench/profile-summary.mjs <file.cpuprofile | directory> [--top 25]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function load(file) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  const { samples, timeDeltas } = p;
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0));
  const total = timeDeltas.reduce((a, b) => a + Math.max(0, b), 0);
  return { byId, self, total };
}

function where(url) {
  if (!url) return '(native / V8)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node core';
  const d = url.indexOf('/dist/');
  if (d >= 0) return 'llmproxy ' + url.slice(d + 6).split('/').slice(0, 3).join('/');
  return url;
}

function keyOf(cf) {
  const short = cf.url ? cf.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/') : '';
  return `${cf.functionName || '(anonymous)'} ${short ? `${short}:${cf.lineNumber + 1}` : ''}`.trim();
}

/** Inclusive (self + callees) time per function, counting a recursive function once per stack. */
function inclusive(byId, self) {
  const total = new Map();
  const root = [...byId.values()].find((n) => n.callFrame.functionName === '(root)') ?? byId.values().next().value;
  const subtree = new Map();
  const sizeOf = (n) => {
    if (subtree.has(n.id)) return subtree.get(n.id);
    let t = self.get(n.id) ?? 0;
    for (const c of n.children ?? []) t += sizeOf(byId.get(c));
    subtree.set(n.id, t);
    return t;
  };
  const walk = (n, onStack) => {
    const k = keyOf(n.callFrame);
    const fresh = !onStack.has(k);
    if (fresh) {
      total.set(k, (total.get(k) ?? 0) + sizeOf(n));
      onStack.add(k);
    }
    for (const c of n.children ?? []) walk(byId.get(c), onStack);
    if (fresh) onStack.delete(k);
  };
  walk(root, new Set());
  return total;
}

/** Markdown: top functions by self time, then self time per package / app folder. */
export function summarize(files, top = 25) {
  const fn = new Map();
  const pkg = new Map();
  const incl = new Map();
  let total = 0;
  for (const file of files) {
    const { byId, self, total: t } = load(file);
    total += t;
    for (const [k, us] of inclusive(byId, self)) incl.set(k, (incl.get(k) ?? 0) + us);
    for (const [id, us] of self) {
      const n = byId.get(id);
      const cf = n.callFrame;
      const short = cf.url ? cf.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/') : '';
      const key = `${cf.functionName || '(anonymous)'} ${short ? `${short}:${cf.lineNumber + 1}` : ''}`.trim();
      fn.set(key, (fn.get(key) ?? 0) + us);
      const w = cf.functionName === '(idle)' ? '(idle)' : cf.functionName === '(garbage collector)' ? '(garbage collector)' : cf.functionName === '(program)' ? '(program)' : where(cf.url);
      pkg.set(w, (pkg.get(w) ?? 0) + us);
    }
  }
  const idle = pkg.get('(idle)') ?? 0;
  const busy = total - idle;
  const pc = (us) => `${((100 * us) / busy).toFixed(1)} %`;
  const lines = [`${files.length} profile(s), ${(busy / 1e6).toFixed(2)} s busy of ${(total / 1e6).toFixed(2)} s sampled (percentages of busy time)\n`];
  lines.push('| self time | function |', '|---:|---|');
  for (const [k, us] of [...fn].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`| ${pc(us)} | \`${k}\` |`);
  lines.push('', '| self time | where |', '|---:|---|');
  for (const [k, us] of [...pkg].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`| ${pc(us)} | ${k} |`);
  lines.push('', 'Inclusive time (self + callees) of llmproxy functions and selected library entry points:', '', '| inclusive | function |', '|---:|---|');
  const interesting = (k) => /dist\/(apps|libs)\//.test(k) || /^(encode\w*|sqliteTransaction|query|stringify|parse) /.test(k) || /^(stringify|parse)$/.test(k);
  for (const [k, us] of [...incl].filter(([k]) => interesting(k)).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`| ${pc(us)} | \`${k}\` |`);
  return lines.join('\n') + '\n';
}

/** How long before a full GC's pause a stall is counted as its marking (V8 marks concurrently first). */
const FULL_GC_MARKING_MS = 300;

/**
 * The full GC a stall that began at `start` belongs to: one whose pause it fell in, or whose pause
 * came within 300 ms after it. `fullGcs` are [pause start, pause ms], in the same ms as `start`.
 * Shared by the probe (bench/event-loop-probe.mjs) and `attributeStalls`.
 */
export function fullGcAround(start, fullGcs) {
  return fullGcs.find(([at, ms]) => start > at - FULL_GC_MARKING_MS && start < at + ms);
}

/**
 * What the main thread ran during each event-loop stall the probe listed (`--profile --stalls`).
 * `stalls` are [due, in µs of the monotonic clock the profile's timestamps use; how late, ms; CPU ms
 * the process used meanwhile; optionally a label saying when (else the time into the profile); ms the
 * main thread ran; ms it waited for the core], `majorGcs` the full GCs' pauses [start, same clock; ms].
 * The verdict, first match:
 * - in a full GC's pause or the 300 ms before it: that GC (V8 marks first, on its own threads);
 * - the main thread waited for the core for half of it or more: the process's other threads had it
 *   (V8's GC and compiler helpers, libuv's pool, the checkpoint thread) when they used at least half
 *   that wait in CPU, else another process;
 * - a gap in the samples of half of it or more, the main thread counted as running: the whole process
 *   stopped, the profiler's own thread included — the machine paused it;
 * - the process used less CPU than half of it: a blocking call (its samples show which);
 * - GC samples for half of it or more: GC; else computing, and the top functions say what.
 */
export function attributeStalls(files, stalls, top = 3, majorGcs = []) {
  const profiles = files.map((file) => {
    const p = JSON.parse(fs.readFileSync(file, 'utf8'));
    const times = [];
    let t = p.startTime;
    for (const d of p.timeDeltas) times.push((t += d));
    return { byId: new Map(p.nodes.map((n) => [n.id, n])), samples: p.samples, deltas: p.timeDeltas, times, start: p.startTime, end: p.endTime };
  });
  const lines = ['| when | late ms | process CPU ms | main thread ran / waited for the core ms | samples | longest gap ms | what the main thread ran (ms of samples) | verdict |', '|---:|---:|---:|---:|---:|---:|---|---|'];
  const verdicts = {};
  for (const [due, late, cpuMs, label, runMs, waitMs] of [...stalls].sort((a, b) => a[0] - b[0])) {
    const end = due + late * 1000;
    const p = profiles.find((x) => x.start <= due && x.end >= due);
    if (!p) continue;
    const fn = new Map();
    let count = 0;
    let gap = 0;
    for (let i = 0; i < p.times.length; i++) {
      const sampledAt = p.times[i];
      const since = sampledAt - p.deltas[i]; // the previous sample: nothing was sampled in between
      if (sampledAt <= due) continue;
      if (since >= end) break;
      gap = Math.max(gap, Math.min(sampledAt, end) - Math.max(since, due));
      if (sampledAt > end) continue;
      count++;
      const cf = p.byId.get(p.samples[i]).callFrame;
      const k = `${cf.functionName || '(anonymous)'}${cf.url ? ` ${cf.url.replace(/^.*\/(node_modules|dist)\//, '')}:${cf.lineNumber + 1}` : ''}`;
      fn.set(k, (fn.get(k) ?? 0) + p.deltas[i]);
    }
    const what = [...fn].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `\`${k}\` ${(us / 1000).toFixed(1)}`).join(', ');
    // A thread that waits for the core is not sampled either (the profiler's thread shares it), so the
    // wait is asked first; the machine pausing leaves a gap while the main thread counts as running.
    const fullGc = fullGcAround(due / 1000, majorGcs.map(([at, ms]) => [at / 1000, ms]));
    const verdict =
      fullGc ? `a full GC: ${due / 1000 < fullGc[0] ? `its marking, ${(fullGc[0] - due / 1000).toFixed(0)} ms before its ${fullGc[1]} ms pause` : `its ${fullGc[1]} ms pause`}`
      : waitMs >= late / 2 ? (cpuMs - runMs >= waitMs / 2 ? "the process's other threads had the core" : 'another process had the core')
      : gap / 1000 >= late / 2 ? 'machine paused (no samples)'
      : cpuMs < late / 2 ? 'waited in a blocking call'
      : fn.has('(garbage collector)') && fn.get('(garbage collector)') / 1000 >= late / 2 ? 'GC'
      : 'computing';
    verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
    lines.push(`| ${label ?? `${((due - p.start) / 1e6).toFixed(3)} s into the profile`} | ${late.toFixed(1)} | ${cpuMs.toFixed(1)} | ${runMs === undefined ? '–' : `${runMs.toFixed(1)} / ${waitMs.toFixed(1)}`} | ${count} | ${(gap / 1000).toFixed(1)} | ${what} | ${verdict} |`);
  }
  const summary = Object.entries(verdicts).map(([v, n]) => `${n} ${v}`).join(', ') || 'none in the profile';
  return `${stalls.length} stall(s) over 10 ms: ${summary}\n\n${lines.join('\n')}\n`;
}

/** The main thread's profiles in a `--cpu-prof-dir` (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; the main thread is 0). */
export function mainThreadProfiles(dir) {
  return fs.readdirSync(dir).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)).map((f) => path.join(dir, f));
}

export function summarizeDir(dir, top = 25) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  return files.length ? summarize(files, top) : `(no .cpuprofile in ${dir})\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = process.argv[2];
  const i = process.argv.indexOf('--top');
  const top = i > 0 ? Number(process.argv[i + 1]) : 25;
  if (!target) {
    console.error('usage: node bench/profile-summary.mjs <file.cpuprofile | dir> [--top N]');
    process.exit(2);
  }
  process.stdout.write(fs.statSync(target).isDirectory() ? summarizeDir(target, top) : summarize([target], top));
}
