// Issue 17: preloaded into the gateway (`node --import bench/memory/probe.mjs …`, as idle.mjs and
// streams.mjs do). On SIGUSR2 appends one JSON line to $PROBE_OUT (process.memoryUsage(), heap spaces,
// RssAnon/RssFile/VmHWM, CommonJS module count) and writes the module count per package beside it.
import fs from 'node:fs';
import v8 from 'node:v8';
import Module from 'node:module';
process.on('SIGUSR2', () => {
  const m = process.memoryUsage();
  const mb = (x) => Math.round((x / 1048576) * 10) / 10;
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, [mb(s.space_size), mb(s.space_used_size)]]));
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(status.match(new RegExp(`${k}:\\s+(\\d+)`))[1]);
  const hs = v8.getHeapStatistics();
  const line = { rss: mb(m.rss), heapTotal: mb(m.heapTotal), heapUsed: mb(m.heapUsed), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers), rssAnon: mb(kb('RssAnon') * 1024), rssFile: mb(kb('RssFile') * 1024), hwm: mb(kb('VmHWM') * 1024), code: mb(hs.total_physical_size), mallocedMemory: mb(hs.malloced_memory), cjsModules: Object.keys(Module._cache).length, spaces };
  const pk = {}; for (const f of Object.keys(Module._cache)) { const m = f.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/); const k = m ? m[1] : f.replace(/\/[^/]*$/, ''); pk[k] = (pk[k] ?? 0) + 1; }
  fs.writeFileSync((process.env.PROBE_OUT ?? '/tmp/probe.jsonl') + '.mods', Object.entries(pk).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`).join('\n'));
  fs.appendFileSync(process.env.PROBE_OUT ?? '/tmp/probe.jsonl', JSON.stringify(line) + '\n');
});
