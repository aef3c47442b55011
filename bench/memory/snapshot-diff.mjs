// Issue 17: node --max-old-space-size=4000 bench/memory/snapshot-diff.mjs a.heapsnapshot [b.heapsnapshot]
// Count and self size by constructor (or node type) in a heap snapshot, or the growth from a to b.
import fs from 'node:fs';
function summary(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
  const m = snap.snapshot.meta; const nf = m.node_fields.length;
  const types = m.node_types[0]; const it = m.node_fields.indexOf('type'), iname = m.node_fields.indexOf('name'), isz = m.node_fields.indexOf('self_size');
  const out = new Map(); const nodes = snap.nodes; const strings = snap.strings;
  for (let i = 0; i < nodes.length; i += nf) {
    const t = types[nodes[i + it]]; let name = t === 'object' || t === 'closure' || t === 'native' ? strings[nodes[i + iname]] : `(${t})`;
    if (t === 'closure') name = 'closure ' + name;
    const k = name.slice(0, 80); const e = out.get(k) ?? [0, 0]; e[0]++; e[1] += nodes[i + isz]; out.set(k, e);
  }
  return out;
}
const [a, b] = process.argv.slice(2).map(summary);
const keys = new Set([...a.keys(), ...(b ? b.keys() : [])]);
const rows = [...keys].map((k) => { const x = a.get(k) ?? [0, 0], y = b ? (b.get(k) ?? [0, 0]) : [0, 0]; return b ? [k, y[0] - x[0], y[1] - x[1]] : [k, x[0], x[1]]; });
rows.sort((p, q) => q[2] - p[2]);
for (const r of rows.slice(0, 45)) console.log(String(r[1]).padStart(8), String(Math.round(r[2] / 1024)).padStart(8), 'KB ', r[0]);
