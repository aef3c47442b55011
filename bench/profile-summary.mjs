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
