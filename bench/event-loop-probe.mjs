/**
 * Preloaded into llmproxy by `bench/run.mjs --stalls` (`node --import bench/event-loop-probe.mjs`):
 * what held the event loop during a measurement. On SIGUSR2 it writes, to
 * `$BENCH_EVENT_LOOP_DIR/<pid>.json`, what it saw since the previous SIGUSR2 and starts over:
 *
 * - `delay`: the event-loop delay histogram (perf_hooks.monitorEventLoopDelay, 1 ms resolution):
 *   p50, p99, max in ms — how late a timer due now would run;
 * - `gc`: pauses by kind (scavenge = young generation, mark-compact = full, incremental, weak
 *   callbacks): count, total and longest ms (PerformanceObserver 'gc');
 * - `stalls`: turns of the loop that ran over 10 ms late, and how many of them overlapped a GC pause
 *   of at least half their length (so the rest were JavaScript or a synchronous call).
 *
 * The 1 ms timer costs a little CPU: CPU figures of a run with `--stalls` are not comparable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const dir = process.env.BENCH_EVENT_LOOP_DIR;
const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
const STALL_MS = 10;
const TICK_MS = 2;

if (dir) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let pauses = []; // [start, duration, kind], performance.now() time
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push([entry.startTime, entry.duration, KINDS[entry.detail?.kind] ?? String(entry.detail?.kind)]);
  }).observe({ entryTypes: ['gc'] });
  let stalls = []; // [start, late by]
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const late = now - last - TICK_MS;
    if (late > STALL_MS) stalls.push([last + TICK_MS, late]);
    last = now;
  }, TICK_MS).unref();

  let seq = 0;
  process.on('SIGUSR2', () => {
    const gc = {};
    for (const [, ms, kind] of pauses) {
      const k = (gc[kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
      k.count++;
      k.totalMs += ms;
      k.maxMs = Math.max(k.maxMs, ms);
    }
    const byGc = stalls.filter(([start, late]) => pauses.some(([s, ms]) => ms >= late / 2 && s < start + late && s + ms > start)).length;
    const snapshot = {
      seq: ++seq,
      delay: { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 },
      gc,
      stalls: { count: stalls.length, byGc, maxMs: stalls.reduce((m, [, late]) => Math.max(m, late), 0) },
    };
    histogram.reset();
    pauses = [];
    stalls = [];
    fs.writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(snapshot));
  });
}
