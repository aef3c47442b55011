/**
 * Preloaded into llmproxy by `bench/run.mjs --stalls` (`node --import bench/event-loop-probe.mjs`):
 * what held the event loop during a measurement. On SIGUSR2 it writes, to
 * `$BENCH_EVENT_LOOP_DIR/<pid>.json`, what it saw since the previous SIGUSR2 and starts over:
 *
 * - `delay`: the event-loop delay histogram (perf_hooks.monitorEventLoopDelay, 1 ms resolution):
 *   p50, p99, max in ms — how late a timer due now would run;
 * - `gc`: pauses by kind (scavenge = young generation, mark-compact = full, incremental, weak
 *   callbacks): count, total and longest ms (PerformanceObserver 'gc');
 * - `mainThread`: ms the main thread ran, and ms it was ready to run but waited for the core (Linux's
 *   schedstat: another thread of this process or another process had it);
 * - `stalls`: turns of the loop that ran over 10 ms late, and how many of them
 *   - overlapped a GC pause of at least half their length (`byGc`),
 *   - fell in a full GC's pause or the 300 ms before it (`byFullGc`: V8 marks the old generation on
 *     its own threads first, on the same core when the process is pinned to one),
 *   - were spent mostly off the CPU (`offCpu`: the process's threads used less CPU than half the
 *     stall: the machine paused, a blocking call waited, or something else had the core);
 *   the rest were computing. `list` has each stall as [when it was due, in µs of the monotonic clock
 *   V8's CPU profiler stamps its samples with; how late, ms; CPU ms of the process meanwhile; ms the
 *   main thread ran; ms it waited for the core], `majorGc` the full GCs' pauses [start, same clock;
 *   ms] and `since` when the snapshot began, so that `--profile` can say what ran in each stall
 *   (bench/profile-summary.mjs).
 *
 * Its 2 ms timer, the 1 ms histogram and a schedstat read per tick cost a little CPU: CPU figures of
 * a run with `--stalls` are not comparable to a plain one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fullGcAround } from './profile-summary.mjs';

const dir = process.env.BENCH_EVENT_LOOP_DIR;
const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
const STALL_MS = 10;
const TICK_MS = 2;
/** Stalls listed with their time, per snapshot (the count covers all of them). */
const MAX_LISTED = 1000;

if (dir) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let pauses = []; // [start, duration, kind], performance.now() time
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push([entry.startTime, entry.duration, KINDS[entry.detail?.kind] ?? String(entry.detail?.kind)]);
  }).observe({ entryTypes: ['gc'] });
  let stalls = []; // [start, late by, start in µs of the monotonic clock, CPU ms of the process, main thread's run ms, its wait ms]
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  // The main thread's own time on the CPU and waiting for it (ns, Linux's schedstat; ~3 µs a read).
  const schedstat = (() => {
    try {
      const fd = fs.openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
      const buffer = Buffer.alloc(128);
      return () => {
        const [run, wait] = buffer.toString('latin1', 0, fs.readSync(fd, buffer, 0, buffer.length, 0)).split(' ');
        return [Number(run) / 1e6, Number(wait) / 1e6];
      };
    } catch {
      return () => [NaN, NaN];
    }
  })();
  let lastSched = schedstat();
  // performance.now() counts from timeOrigin on the monotonic clock: a time of it in that clock's µs.
  const monotonicUs = (ms) => Math.round(Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000 + ms * 1000);
  setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const sched = schedstat();
    const late = now - last - TICK_MS;
    if (late > STALL_MS) {
      const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
      stalls.push([last + TICK_MS, late, monotonicUs(last + TICK_MS), cpuMs, sched[0] - lastSched[0], sched[1] - lastSched[1]]);
    }
    last = now;
    lastCpu = cpu;
    lastSched = sched;
  }, TICK_MS).unref();

  let seq = 0;
  let since = monotonicUs(performance.now());
  let sinceSched = schedstat();
  process.on('SIGUSR2', () => {
    const sched = schedstat();
    const gc = {};
    for (const [, ms, kind] of pauses) {
      const k = (gc[kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
      k.count++;
      k.totalMs += ms;
      k.maxMs = Math.max(k.maxMs, ms);
    }
    const byGc = stalls.filter(([start, late]) => pauses.some(([s, ms]) => ms >= late / 2 && s < start + late && s + ms > start)).length;
    // A full GC first marks the old generation on V8's threads (on the same core when the process is
    // pinned to one), then pauses: stalls in the pause or the 300 ms before it are counted as it.
    const full = pauses.filter(([, , kind]) => kind === 'mark-compact');
    const byFullGc = stalls.filter(([start]) => fullGcAround(start, full)).length;
    // The process's threads together ran for less than half of the stall: it was off the CPU (the
    // machine paused, a blocking call waited, or something else had the core), not computing.
    const offCpu = stalls.filter(([, late, , cpuMs]) => cpuMs < (late + TICK_MS) / 2).length;
    const snapshot = {
      seq: ++seq,
      delay: { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 },
      gc,
      // The main thread over the whole interval: ms on the CPU, and ms ready to run but waiting for the core.
      mainThread: { ranMs: sched[0] - sinceSched[0], waitedMs: sched[1] - sinceSched[1] },
      stalls: {
        count: stalls.length,
        byGc,
        byFullGc,
        offCpu,
        maxMs: stalls.reduce((m, [, late]) => Math.max(m, late), 0),
        since,
        // The full collections' pauses, [start in µs of the same monotonic clock, ms]: V8 marks the old
        // generation on its own threads before this pause, so a stall just before one may be its marking.
        majorGc: full.map(([start, ms]) => [monotonicUs(start), Math.round(ms * 10) / 10]),
        list: stalls.slice(0, MAX_LISTED).map(([, late, at, ...ms]) => [at, late, ...ms].map((x, i) => (i === 0 ? x : Math.round(x * 10) / 10))),
      },
    };
    histogram.reset();
    pauses = [];
    stalls = [];
    since = monotonicUs(performance.now());
    sinceSched = sched;
    fs.writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(snapshot));
  });
}
