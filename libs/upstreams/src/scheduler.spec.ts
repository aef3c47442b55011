import { jest } from '@jest/globals';
import { UpstreamError } from '@llmproxy/ollama';
import { type Lease, NoUpstreamError, OverloadedError, Scheduler, type SchedulerOptions, type SlotRequest } from './scheduler.js';
import { type UpstreamConfig, UpstreamState } from './upstream.js';

interface Spec extends Partial<UpstreamConfig> {
  id: number;
  models?: string[];
  loaded?: string[];
}

function upstream(spec: Spec): UpstreamState {
  const state = new UpstreamState(
    { name: `u${spec.id}`, url: `http://u${spec.id}:11434`, enabled: true, maxParallel: 1, priority: 0, ...spec },
    { failures: 3, cooldownMs: 1_000 },
  );
  if (spec.models) state.models = new Set(spec.models);
  if (spec.loaded) state.loaded = new Set(spec.loaded);
  return state;
}

/** A scheduler over a mutable list of upstreams, with a clock the test moves. */
function setup(specs: Spec[], options: Partial<SchedulerOptions> = {}) {
  const list = specs.map(upstream);
  const clock = { now: 1_000_000 };
  const events = { waited: jest.fn(), overloaded: jest.fn() };
  const scheduler = new Scheduler(
    { upstreams: () => list },
    { queueMax: 1_000, queueTimeoutMs: 60_000, now: () => clock.now, ...options },
    events,
  );
  return { scheduler, list, clock, events };
}

const req = (keyId: number, extra: Partial<SlotRequest> = {}): SlotRequest => ({ keyId, model: null, ...extra });

/** Lets promise callbacks (settled grants) run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tracks a pending acquire: whether and with what it settled. */
function track(promise: Promise<Lease>, label: string | number = '') {
  const t = { label, lease: undefined as Lease | undefined, error: undefined as Error | undefined, settled: false };
  promise.then(
    (lease) => Object.assign(t, { lease, settled: true }),
    (error: Error) => Object.assign(t, { error, settled: true }),
  );
  return t;
}

function openBreaker(u: UpstreamState, now: number) {
  for (let i = 0; i < 3; i++) u.breaker.failure(now);
  expect(u.breaker.state(now)).toBe('open');
}

describe('Scheduler: slots', () => {
  it('grants at once when a slot is free, counts it in flight, and frees it on release', async () => {
    const { scheduler, list } = setup([{ id: 1, maxParallel: 2 }]);
    const lease = await scheduler.acquire(req(1));
    expect(lease.upstream).toBe(list[0]);
    expect(lease.waitedMs).toBe(0);
    expect(list[0]!.inFlight).toBe(1);
    expect(scheduler.waiting).toBe(0);
    lease.release();
    expect(list[0]!.inFlight).toBe(0);
  });

  it('waits when every slot is taken and is granted when one is released', async () => {
    const { scheduler, list, clock, events } = setup([{ id: 1, maxParallel: 1 }]);
    const first = await scheduler.acquire(req(1));
    const second = track(scheduler.acquire(req(2)));
    await flush();
    expect(second.settled).toBe(false);
    expect(scheduler.waiting).toBe(1);
    expect(list[0]!.inFlight).toBe(1);

    clock.now += 250;
    first.release();
    await flush();
    expect(second.lease?.upstream).toBe(list[0]);
    expect(second.lease?.waitedMs).toBe(250);
    expect(events.waited).toHaveBeenLastCalledWith(list[0], 0.25);
    expect(scheduler.waiting).toBe(0);
    expect(list[0]!.inFlight).toBe(1);
  });

  it('never gives an upstream more than maxParallel at once', async () => {
    const { scheduler, list } = setup([{ id: 1, maxParallel: 3 }]);
    const pending = Array.from({ length: 10 }, (_, i) => track(scheduler.acquire(req(i % 2))));
    await flush();
    expect(pending.filter((p) => p.lease).length).toBe(3);
    expect(list[0]!.inFlight).toBe(3);
    expect(scheduler.waiting).toBe(7);
    let maxSeen = 0;
    while (pending.some((p) => !p.settled || p.lease)) {
      const held = pending.find((p) => p.lease);
      if (!held) break;
      held.lease!.release();
      held.lease = undefined;
      await flush();
      maxSeen = Math.max(maxSeen, list[0]!.inFlight);
      expect(list[0]!.inFlight).toBeLessThanOrEqual(3);
    }
    expect(maxSeen).toBe(3);
    expect(list[0]!.inFlight).toBe(0);
    expect(scheduler.waiting).toBe(0);
    expect(pending.every((p) => p.settled && !p.error)).toBe(true);
  });

  it('fills both upstreams before anyone waits', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 2 },
      { id: 2, maxParallel: 1 },
    ]);
    const leases = await Promise.all([scheduler.acquire(req(1)), scheduler.acquire(req(1)), scheduler.acquire(req(1))]);
    expect(leases.map((l) => l.upstream.id).sort()).toEqual([1, 1, 2]);
    expect(list[0]!.inFlight).toBe(2);
    expect(list[1]!.inFlight).toBe(1);
    const fourth = track(scheduler.acquire(req(1)));
    await flush();
    expect(fourth.settled).toBe(false);
    leases.find((l) => l.upstream.id === 2)!.release();
    await flush();
    expect(fourth.lease?.upstream.id).toBe(2);
  });

  it('release is idempotent: a second call frees nothing and grants nobody', async () => {
    const { scheduler, list } = setup([{ id: 1, maxParallel: 2 }]);
    const a = await scheduler.acquire(req(1));
    const b = await scheduler.acquire(req(1));
    const w1 = track(scheduler.acquire(req(2)));
    const w2 = track(scheduler.acquire(req(3)));
    await flush();
    expect(scheduler.waiting).toBe(2);
    a.release();
    await flush();
    expect(w1.lease ?? w2.lease).toBeDefined();
    expect(scheduler.waiting).toBe(1);
    a.release();
    a.release();
    await flush();
    expect(list[0]!.inFlight).toBe(2);
    expect(scheduler.waiting).toBe(1);
    expect([w1, w2].filter((w) => w.lease).length).toBe(1);
    b.release();
    await flush();
    expect([w1, w2].filter((w) => w.lease).length).toBe(2);
    expect(list[0]!.inFlight).toBe(2);
  });
});

/**
 * Labelled requests whose grants are recorded in order. On one single-slot upstream, `next()`
 * releases the slot held by the last grant and checks that exactly one more request got it.
 */
async function harness(specs: Spec[] = [{ id: 1, maxParallel: 1 }], options: Partial<SchedulerOptions> = {}) {
  const ctx = setup(specs, options);
  const order: string[] = [];
  const leases = new Map<string, Lease>();
  const errors = new Map<string, Error>();
  const add = (label: string, request: SlotRequest) =>
    ctx.scheduler.acquire(request).then(
      (lease) => {
        order.push(label);
        leases.set(label, lease);
      },
      (error: Error) => {
        errors.set(label, error);
      },
    );
  const release = (label: string) => leases.get(label)!.release();
  const next = async () => {
    const before = order.length;
    release(order[before - 1]!);
    await flush();
    expect(order.length).toBe(before + 1);
    return order[before]!;
  };
  return { ...ctx, add, release, next, order, leases, errors };
}

/** A harness whose single slot is already held (by request 'hold', key 99). */
async function held(options: Partial<SchedulerOptions> = {}) {
  const h = await harness([{ id: 1, maxParallel: 1 }], options);
  await h.add('hold', req(99));
  expect(h.order).toEqual(['hold']);
  return h;
}

const keyOf = (label: string) => label.replace(/\d+$/, '');

describe('Scheduler: fair queue', () => {
  it('a key with one request is served at the next free slot, not after the 50 of another key', async () => {
    const { scheduler, add, next, order } = await held();
    for (let i = 0; i < 50; i++) void add(`A${i}`, req(1));
    await flush();
    expect(scheduler.waiting).toBe(50);
    void add('B0', req(2));
    await flush();
    expect(scheduler.waiting).toBe(51);
    expect(await next()).toBe('B0');
    expect(scheduler.waiting).toBe(50);
    expect(await next()).toBe('A0');
    expect(await next()).toBe('A1');
    expect(scheduler.waiting).toBe(48);
    expect(order).toEqual(['hold', 'B0', 'A0', 'A1']);
  });

  it('a light key that keeps sending while a heavy key waits gets every other slot', async () => {
    const { add, next, order } = await held();
    for (let i = 0; i < 10; i++) void add(`A${i}`, req(1));
    await flush();
    expect(await next()).toBe('A0');
    void add('B0', req(2));
    void add('B1', req(2));
    await flush();
    for (let i = 0; i < 5; i++) await next();
    expect(order.slice(1)).toEqual(['A0', 'B0', 'A1', 'B1', 'A2', 'A3']);
  });

  it('three keys interleave round robin, each in its own order', async () => {
    const { scheduler, add, next, order } = await held();
    for (const key of ['X', 'Y', 'Z']) for (let i = 0; i < 4; i++) void add(`${key}${i}`, req(key.charCodeAt(0)));
    await flush();
    expect(scheduler.waiting).toBe(12);
    for (let i = 0; i < 12; i++) await next();
    expect(scheduler.waiting).toBe(0);
    const granted = order.slice(1);
    const firstRound = granted.slice(0, 3).map(keyOf);
    expect([...firstRound].sort()).toEqual(['X', 'Y', 'Z']);
    for (let round = 1; round < 4; round++) {
      expect(granted.slice(round * 3, round * 3 + 3).map(keyOf)).toEqual(firstRound);
    }
    for (const key of ['X', 'Y', 'Z']) {
      expect(granted.filter((l) => keyOf(l) === key)).toEqual([0, 1, 2, 3].map((i) => `${key}${i}`));
    }
  });

  it('a key of weight 2 gets two turns per round', async () => {
    const { add, next, order } = await held();
    for (let i = 0; i < 6; i++) void add(`H${i}`, req(1, { weight: 2 }));
    for (let i = 0; i < 6; i++) void add(`L${i}`, req(2));
    await flush();
    for (let i = 0; i < 9; i++) await next();
    const granted = order.slice(1);
    for (let round = 0; round < 3; round++) {
      const kinds = granted.slice(round * 3, round * 3 + 3).map(keyOf);
      expect(kinds.filter((k) => k === 'H').length).toBe(2);
      expect(kinds.filter((k) => k === 'L').length).toBe(1);
    }
    expect(granted.filter((l) => keyOf(l) === 'H')).toEqual(['H0', 'H1', 'H2', 'H3', 'H4', 'H5']);
    expect(granted.filter((l) => keyOf(l) === 'L')).toEqual(['L0', 'L1', 'L2']);
  });

  it('weights also hold when several slots free at once', async () => {
    const { scheduler, list, add, release, order } = await harness([{ id: 1, maxParallel: 6 }]);
    for (let i = 0; i < 6; i++) await add(`hold${i}`, req(99));
    for (let i = 0; i < 10; i++) void add(`H${i}`, req(1, { weight: 2 }));
    for (let i = 0; i < 10; i++) void add(`L${i}`, req(2));
    await flush();
    expect(scheduler.waiting).toBe(20);
    for (let i = 0; i < 6; i++) release(`hold${i}`);
    await flush();
    const granted = order.slice(6);
    expect(granted.filter((l) => keyOf(l) === 'H').length).toBe(4);
    expect(granted.filter((l) => keyOf(l) === 'L').length).toBe(2);
    expect(list[0]!.inFlight).toBe(6);
    expect(scheduler.waiting).toBe(14);
  });

  it('keys that start waiting one after another are served in the order they came', async () => {
    const { add, next, order } = await held();
    for (let i = 0; i < 4; i++) void add(`A${i}`, req(1));
    await flush();
    for (const key of [2, 3, 4, 5]) void add(`K${key}`, req(key));
    await flush();
    for (let i = 0; i < 8; i++) await next();
    const light = order.filter((l) => l.startsWith('K'));
    expect(light).toEqual(['K2', 'K3', 'K4', 'K5']);
  });

  it('a waiting key is not pushed back indefinitely by keys that keep arriving', async () => {
    const { add, next, order, scheduler } = await held();
    void add('A0', req(1));
    void add('A1', req(1));
    await flush();
    // A new key arrives before every free slot: the waiting key still gets at least every other slot.
    for (let i = 0; i < 6; i++) {
      void add(`N${i}`, req(100 + i));
      await flush();
      await next();
    }
    const granted = order.slice(1);
    // Keys that wait get every other slot between them (one new key at a time goes ahead): A0 by
    // the second grant, A1 one round of the waiting keys later.
    expect(granted.indexOf('A0')).toBeLessThan(2);
    expect(granted.indexOf('A1')).toBeGreaterThan(granted.indexOf('A0'));
    expect(granted.indexOf('A1')).toBeLessThan(6);
    // No new key waits behind more than one key that came after it.
    const newcomers = granted.filter((l) => keyOf(l) === 'N').map((l) => Number(l.slice(1)));
    newcomers.forEach((n, position) => expect(newcomers.slice(0, position).filter((m) => m > n).length).toBeLessThanOrEqual(1));
    expect(scheduler.waiting).toBe(2);
  });

  it('queue_full only when the request would have to wait: a free slot for its model is still given', async () => {
    const { scheduler, add, order, errors } = await harness(
      [
        { id: 1, maxParallel: 1, models: ['a:latest'] },
        { id: 2, maxParallel: 1, models: ['b:latest'] },
      ],
      { queueMax: 1 },
    );
    await add('a-hold', req(1, { model: 'a:latest' }));
    void add('a-wait', req(1, { model: 'a:latest' }));
    await flush();
    expect(scheduler.waiting).toBe(1);
    await add('b', req(2, { model: 'b:latest' }));
    expect(errors.get('b')).toBeUndefined();
    expect(order).toEqual(['a-hold', 'b']);
  });

  it('a waiting request for a model whose upstream has a free slot is not held back by others waiting', async () => {
    const { scheduler, add, order } = await harness([
      { id: 1, maxParallel: 1, models: ['a:latest'] },
      { id: 2, maxParallel: 1, models: ['b:latest'] },
    ]);
    await add('a-hold', req(1, { model: 'a:latest' }));
    void add('a-wait', req(1, { model: 'a:latest' }));
    await flush();
    expect(scheduler.waiting).toBe(1);
    await add('b', req(2, { model: 'b:latest' }));
    expect(order).toEqual(['a-hold', 'b']);
    expect(scheduler.waiting).toBe(1);
  });
});

describe('Scheduler: bounds', () => {
  it('rejects at once with queue_full when queueMax requests already wait', async () => {
    const { scheduler, events, add, errors, order } = await held({ queueMax: 2 });
    void add('w1', req(1));
    void add('w2', req(2));
    await add('over', req(3));
    const error = errors.get('over');
    expect(error).toBeInstanceOf(OverloadedError);
    expect((error as OverloadedError).reason).toBe('queue_full');
    expect((error as OverloadedError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(events.overloaded).toHaveBeenCalledWith('queue_full');
    expect(scheduler.waiting).toBe(2);
    expect(errors.has('w1') || errors.has('w2')).toBe(false);
    expect(order).toEqual(['hold']);
  });

  it('a key that fills the queue cannot lock another out: the newcomer takes the longest queue’s newest place', async () => {
    const { scheduler, events, add, errors, next } = await held({ queueMax: 3 });
    for (let i = 0; i < 3; i++) void add(`A${i}`, req(1));
    await flush();
    await add('A3', req(1)); // its own key is the longest: refused
    expect((errors.get('A3') as OverloadedError).reason).toBe('queue_full');
    void add('B0', req(2));
    await flush();
    expect((errors.get('A2') as OverloadedError).reason).toBe('queue_full');
    expect(events.overloaded).toHaveBeenCalledTimes(2);
    expect(scheduler.waiting).toBe(3);
    expect(await next()).toBe('B0');
    expect(await next()).toBe('A0');
    expect(await next()).toBe('A1');
  });

  it('two keys with equal queues do not evict each other', async () => {
    const { add, errors } = await held({ queueMax: 4 });
    for (const label of ['A0', 'B0', 'A1', 'B1']) void add(label, req(label.startsWith('A') ? 1 : 2));
    await flush();
    await add('A2', req(1));
    expect([...errors.keys()]).toEqual(['A2']);
  });

  it('queueMax 0 still grants a free slot at once', async () => {
    const { scheduler } = setup([{ id: 1, maxParallel: 1 }], { queueMax: 0 });
    await expect(scheduler.acquire(req(1))).resolves.toBeDefined();
    await expect(scheduler.acquire(req(1))).rejects.toMatchObject({ name: 'OverloadedError', reason: 'queue_full' });
    expect(scheduler.waiting).toBe(0);
  });

  describe('with fake timers', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('rejects with queue_timeout when no slot frees in time, and the ticket leaves the queue', async () => {
      const { scheduler, list, events } = setup([{ id: 1, maxParallel: 1 }], { queueTimeoutMs: 5_000 });
      const holder = await scheduler.acquire(req(1));
      const outcome = scheduler.acquire(req(2)).catch((e: unknown) => e);
      expect(scheduler.waiting).toBe(1);
      jest.advanceTimersByTime(4_999);
      expect(scheduler.waiting).toBe(1);
      expect(events.overloaded).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      const error = await outcome;
      expect(error).toBeInstanceOf(OverloadedError);
      expect((error as OverloadedError).reason).toBe('queue_timeout');
      expect((error as OverloadedError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(events.overloaded).toHaveBeenCalledWith('queue_timeout');
      expect(scheduler.waiting).toBe(0);
      // The timed-out request does not take the slot when it frees.
      holder.release();
      expect(list[0]!.inFlight).toBe(0);
    });

    it('a request granted before its timeout is not rejected later', async () => {
      const { scheduler, events } = setup([{ id: 1, maxParallel: 1 }], { queueTimeoutMs: 5_000 });
      const holder = await scheduler.acquire(req(1));
      const waiting = scheduler.acquire(req(2));
      jest.advanceTimersByTime(1_000);
      holder.release();
      const lease = await waiting;
      jest.advanceTimersByTime(10_000);
      expect(events.overloaded).not.toHaveBeenCalled();
      expect(lease.upstream.inFlight).toBe(1);
      expect(scheduler.waiting).toBe(0);
    });
  });
});

describe('Scheduler: abort', () => {
  it('an abort removes the waiting request and rejects it with AbortError', async () => {
    const { scheduler, list, add, errors, next } = await held();
    const controller = new AbortController();
    void add('aborted', req(2, { signal: controller.signal }));
    void add('other', req(3));
    await flush();
    expect(scheduler.waiting).toBe(2);
    controller.abort();
    expect(scheduler.waiting).toBe(1);
    await flush();
    expect(errors.get('aborted')).toBeInstanceOf(Error);
    expect(errors.get('aborted')!.name).toBe('AbortError');
    // The slot goes to the one still waiting, not to the aborted one.
    expect(await next()).toBe('other');
    expect(list[0]!.inFlight).toBe(1);
    expect(scheduler.waiting).toBe(0);
  });

  it('an already aborted signal is rejected without taking a slot', async () => {
    const { scheduler, list } = setup([{ id: 1, maxParallel: 1 }]);
    const controller = new AbortController();
    controller.abort();
    await expect(scheduler.acquire(req(1, { signal: controller.signal }))).rejects.toMatchObject({ name: 'AbortError' });
    expect(list[0]!.inFlight).toBe(0);
    expect(scheduler.waiting).toBe(0);
  });

  it('an abort after the grant does nothing to the lease', async () => {
    const { scheduler, list, add, next, errors, release } = await held();
    const controller = new AbortController();
    void add('w', req(2, { signal: controller.signal }));
    await flush();
    expect(await next()).toBe('w');
    controller.abort();
    await flush();
    expect(errors.size).toBe(0);
    expect(list[0]!.inFlight).toBe(1);
    expect(scheduler.waiting).toBe(0);
    release('w');
    expect(list[0]!.inFlight).toBe(0);
  });

  it('aborting the only waiting request of a key leaves the other keys taking turns', async () => {
    const { scheduler, add, next, order } = await held();
    const controller = new AbortController();
    void add('A0', req(1));
    void add('A1', req(1));
    void add('B0', req(2, { signal: controller.signal }));
    void add('C0', req(3));
    void add('C1', req(3));
    await flush();
    controller.abort();
    await flush();
    expect(scheduler.waiting).toBe(4);
    for (let i = 0; i < 4; i++) await next();
    const granted = order.slice(1);
    expect(granted).not.toContain('B0');
    expect(granted.map(keyOf)).toEqual([keyOf(granted[0]!), keyOf(granted[1]!), keyOf(granted[0]!), keyOf(granted[1]!)]);
    expect(keyOf(granted[0]!)).not.toBe(keyOf(granted[1]!));
    expect(scheduler.waiting).toBe(0);
  });
});

describe('Scheduler: urgent (failover) requests', () => {
  it('an urgent request waits ahead of every waiting one', async () => {
    const { scheduler, add, next } = await held();
    void add('A0', req(1));
    void add('B0', req(2));
    await flush();
    void add('urgent', req(3, { urgent: true }));
    await flush();
    expect(scheduler.waiting).toBe(3);
    expect(await next()).toBe('urgent');
    expect(scheduler.waiting).toBe(2);
  });

  it('an urgent request takes a free slot at once even while others wait', async () => {
    const { scheduler, add, order } = await harness([
      { id: 1, maxParallel: 1 },
      { id: 2, maxParallel: 1 },
    ]);
    await add('h1', req(9, { exclude: new Set([2]) }));
    void add('w', req(1, { exclude: new Set([2]) }));
    await flush();
    expect(scheduler.waiting).toBe(1);
    await add('u', req(2, { urgent: true, exclude: new Set([1]) }));
    expect(order).toEqual(['h1', 'u']);
  });

  it('exclude keeps a request off an upstream even when it has the most free slots', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 8, priority: 10 },
      { id: 2, maxParallel: 1 },
    ]);
    const lease = await scheduler.acquire(req(1, { exclude: new Set([1]), urgent: true }));
    expect(lease.upstream).toBe(list[1]);
    // And waits for the other one rather than going to the excluded one.
    const waiting = track(scheduler.acquire(req(1, { exclude: new Set([1]) })));
    await flush();
    expect(waiting.settled).toBe(false);
    expect(list[0]!.inFlight).toBe(0);
    lease.release();
    await flush();
    expect(waiting.lease?.upstream).toBe(list[1]);
  });

  it('NoUpstreamError when every upstream is excluded', async () => {
    const { scheduler } = setup([{ id: 1, maxParallel: 1 }]);
    const error = await scheduler.acquire(req(1, { exclude: new Set([1]) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoUpstreamError);
    expect(error).toBeInstanceOf(UpstreamError);
  });
});

describe('Scheduler: routing', () => {
  it('prefers an upstream with the model loaded over one with more free slots and higher priority', () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 8, priority: 10, models: ['m:latest'] },
      { id: 2, maxParallel: 2, priority: 0, models: ['m:latest'], loaded: ['m:latest'] },
    ]);
    expect(scheduler.choose(req(1, { model: 'm:latest' }))).toBe(list[1]);
    // Loading is per model: for another model it is back to free slots.
    list[0]!.models!.add('n:latest');
    list[1]!.models!.add('n:latest');
    expect(scheduler.choose(req(1, { model: 'n:latest' }))).toBe(list[0]);
  });

  it('then prefers more free slots, then higher priority', () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 4, priority: 0 },
      { id: 2, maxParallel: 2, priority: 5 },
    ]);
    expect(scheduler.choose(req(1))).toBe(list[0]);
    list[0]!.inFlight = 2; // 2 free each: priority decides
    expect(scheduler.choose(req(1))).toBe(list[1]);
    list[0]!.inFlight = 3; // 1 free against 2
    expect(scheduler.choose(req(1))).toBe(list[1]);
    list[0]!.inFlight = 0;
    list[0]!.config.maxParallel = 2;
    list[0]!.config.priority = 6;
    expect(scheduler.choose(req(1))).toBe(list[0]);
  });

  it('a model listed on only one upstream goes there, and waits for it when it is full', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 8, priority: 10, models: ['a:latest'] },
      { id: 2, maxParallel: 1, models: ['b:latest'] },
    ]);
    const lease = await scheduler.acquire(req(1, { model: 'b:latest' }));
    expect(lease.upstream).toBe(list[1]);
    const waiting = track(scheduler.acquire(req(1, { model: 'b:latest' })));
    await flush();
    expect(waiting.settled).toBe(false);
    expect(list[0]!.inFlight).toBe(0);
    expect(scheduler.waitingFor(list[1]!)).toBe(1);
    expect(scheduler.waitingFor(list[0]!)).toBe(0);
    lease.release();
    await flush();
    expect(waiting.lease?.upstream).toBe(list[1]);
  });

  it('a model nobody lists may go to any enabled upstream (Ollama answers "not found")', () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 1, models: ['a:latest'] },
      { id: 2, maxParallel: 4, models: ['b:latest'] },
    ]);
    expect(scheduler.choose(req(1, { model: 'zzz:latest' }))).toBe(list[1]);
  });

  it('prefers upstreams not yet polled over ones known to lack the model', () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 8, models: ['a:latest'] },
      { id: 2, maxParallel: 1 },
    ]);
    expect(list[1]!.models).toBeUndefined();
    expect(scheduler.choose(req(1, { model: 'b:latest' }))).toBe(list[1]);
  });

  it('never chooses a disabled upstream', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 8, priority: 10, enabled: false, models: ['m:latest'], loaded: ['m:latest'] },
      { id: 2, maxParallel: 1, models: ['m:latest'] },
    ]);
    const lease = await scheduler.acquire(req(1, { model: 'm:latest' }));
    expect(lease.upstream).toBe(list[1]);
    const waiting = track(scheduler.acquire(req(1, { model: 'm:latest' })));
    await flush();
    expect(waiting.settled).toBe(false);
    expect(list[0]!.inFlight).toBe(0);
    expect(scheduler.choose(req(2))).toBeUndefined();
  });

  it('NoUpstreamError when no upstream is enabled (or none exists)', async () => {
    const { scheduler } = setup([{ id: 1, enabled: false }]);
    await expect(scheduler.acquire(req(1))).rejects.toBeInstanceOf(NoUpstreamError);
    await expect(scheduler.acquire(req(1, { model: 'm:latest' }))).rejects.toMatchObject({ name: 'NoUpstreamError', failure: 'unreachable', status: 502 });
    const empty = setup([]);
    await expect(empty.scheduler.acquire(req(1))).rejects.toBeInstanceOf(NoUpstreamError);
    expect(scheduler.waiting).toBe(0);
  });

  it('skips an upstream whose breaker is open', async () => {
    const { scheduler, list, clock } = setup([
      { id: 1, maxParallel: 8, priority: 10 },
      { id: 2, maxParallel: 1 },
    ]);
    openBreaker(list[0]!, clock.now);
    expect(scheduler.choose(req(1))).toBe(list[1]);
    const lease = await scheduler.acquire(req(1));
    expect(lease.upstream).toBe(list[1]);
    // Full elsewhere: it waits rather than going to the open one.
    expect(scheduler.choose(req(1))).toBeUndefined();
  });

  it('half open: one probe goes to the recovering upstream, then it is skipped until the probe ends', async () => {
    const { scheduler, list, clock } = setup([
      { id: 1, maxParallel: 8, priority: 10 },
      { id: 2, maxParallel: 4 },
    ]);
    openBreaker(list[0]!, clock.now);
    clock.now += 1_000;
    const probe = await scheduler.acquire(req(1));
    expect(probe.upstream).toBe(list[0]);
    const second = await scheduler.acquire(req(1));
    expect(second.upstream).toBe(list[1]);
    list[0]!.breaker.success();
    probe.release();
    expect((await scheduler.acquire(req(1))).upstream).toBe(list[0]);
  });

  it('uses breaker-open upstreams when all are open (the request is the probe)', () => {
    const { scheduler, list, clock } = setup([
      { id: 1, maxParallel: 2 },
      { id: 2, maxParallel: 4 },
    ]);
    openBreaker(list[0]!, clock.now);
    openBreaker(list[1]!, clock.now);
    expect(scheduler.choose(req(1))).toBe(list[1]);
  });

  it('a breaker-open upstream that lists the model is still preferred over ones that do not list it', () => {
    const { scheduler, list, clock } = setup([
      { id: 1, maxParallel: 2, models: ['m:latest'] },
      { id: 2, maxParallel: 4, models: ['other:latest'] },
    ]);
    openBreaker(list[0]!, clock.now);
    expect(scheduler.choose(req(1, { model: 'm:latest' }))).toBe(list[0]);
  });
});

describe('Scheduler: affinity', () => {
  it('a conversation returns to the same upstream though another is better now', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 4 },
      { id: 2, maxParallel: 4 },
    ]);
    const first = await scheduler.acquire(req(1, { affinity: 'c1', model: 'm:latest' }));
    const home = first.upstream;
    const other = list.find((u) => u !== home)!;
    first.release();
    // Make the home upstream the worse choice by every routing rule.
    home.inFlight = 2;
    other.config.priority = 100;
    other.loaded.add('m:latest');
    const again = await scheduler.acquire(req(1, { affinity: 'c1', model: 'm:latest' }));
    expect(again.upstream).toBe(home);
    // Without the conversation, routing picks the other one.
    expect(scheduler.choose(req(1, { model: 'm:latest' }))).toBe(other);
    expect(scheduler.choose(req(1, { affinity: 'c2', model: 'm:latest' }))).toBe(other);
  });

  it('waits for its full upstream while fewer wait for it than it has slots, and moves after affinityWaitMs', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    try {
      const { scheduler, list, clock } = setup(
        [
          { id: 1, maxParallel: 2, priority: 10 },
          { id: 2, maxParallel: 4 },
        ],
        { affinityWaitMs: 3_000 },
      );
      list[1]!.inFlight = 4;
      const first = await scheduler.acquire(req(1, { affinity: 'c' }));
      expect(first.upstream).toBe(list[0]);
      await scheduler.acquire(req(2)); // home now full...
      list[1]!.inFlight = 0; // ...and upstream 2 entirely free
      expect(list[0]!.inFlight).toBe(2);
      expect(scheduler.choose(req(1, { affinity: 'c' }))).toBeUndefined();
      expect(scheduler.choose(req(1, { affinity: 'other' }))).toBe(list[1]);
      const waiting = track(scheduler.acquire(req(1, { affinity: 'c' })));
      await flush();
      expect(waiting.settled).toBe(false);
      expect(scheduler.waiting).toBe(1);
      // A slot frees at home within the wait: the conversation gets it, not the idle upstream.
      first.release();
      await flush();
      expect(waiting.lease?.upstream).toBe(list[0]);
      expect(list[1]!.inFlight).toBe(0);

      // Home full again and nothing frees: after affinityWaitMs the request takes the free upstream.
      const late = track(scheduler.acquire(req(1, { affinity: 'c' })));
      await flush();
      expect(late.settled).toBe(false);
      clock.now += 3_000;
      jest.advanceTimersByTime(3_001);
      await flush();
      expect(late.lease?.upstream).toBe(list[1]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('yields at once when as many requests already wait for its upstream as it has slots', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 2, priority: 10 },
      { id: 2, maxParallel: 4 },
    ]);
    for (const c of ['a', 'b', 'c']) (await scheduler.acquire(req(1, { affinity: c }))).release();
    // a, b and c all live on upstream 1; another key fills it and upstream 2, then a and b wait for it.
    list[1]!.inFlight = 4;
    const fill = [await scheduler.acquire(req(2)), await scheduler.acquire(req(2))];
    expect(fill.map((l) => l.upstream)).toEqual([list[0], list[0]]);
    const a = track(scheduler.acquire(req(1, { affinity: 'a' })));
    const b = track(scheduler.acquire(req(1, { affinity: 'b' })));
    await flush();
    expect(scheduler.waiting).toBe(2);
    list[1]!.inFlight = 0; // upstream 2 frees; nothing calls dispatch yet
    // Two already wait for upstream 1's two slots: c would wait behind them, so it goes elsewhere.
    expect(scheduler.choose(req(1, { affinity: 'c' }))).toBe(list[1]);
    expect(a.settled || b.settled).toBe(false);
  });

  it('keeps one upstream per model of a conversation (a main and a small model)', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 4, models: ['big:latest', 'small:latest'] },
      { id: 2, maxParallel: 4, models: ['big:latest', 'small:latest'] },
    ]);
    list[1]!.inFlight = 1;
    const big = await scheduler.acquire(req(1, { affinity: 's', model: 'big:latest' }));
    expect(big.upstream).toBe(list[0]);
    list[1]!.inFlight = 0;
    list[0]!.inFlight = 2; // upstream 2 now has more free slots: the small model goes there
    const small = await scheduler.acquire(req(1, { affinity: 's', model: 'small:latest' }));
    expect(small.upstream).toBe(list[1]);
    list[0]!.inFlight = 1;
    list[1]!.inFlight = 3;
    // Each model's next turn goes back to where that model ran, whatever the load says.
    expect(scheduler.choose(req(1, { affinity: 's', model: 'big:latest' }))).toBe(list[0]);
    list[0]!.inFlight = 3;
    list[1]!.inFlight = 1;
    expect(scheduler.choose(req(1, { affinity: 's', model: 'small:latest' }))).toBe(list[1]);
  });

  it('marks the model loaded where it was sent, so the next request for it goes there before the poll says so', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 4, models: ['a:latest', 'b:latest'] },
      { id: 2, maxParallel: 4, models: ['a:latest', 'b:latest'] },
    ]);
    const a = await scheduler.acquire(req(1, { model: 'a:latest' }));
    expect(a.upstream.loaded.has('a:latest')).toBe(true);
    const other = list.find((u) => u !== a.upstream)!;
    // Fewer free slots where a:latest runs, yet the next a:latest request follows the loaded model...
    expect(scheduler.choose(req(2, { model: 'a:latest' }))).toBe(a.upstream);
    // ...and b:latest, loaded nowhere, goes to the upstream with more free slots.
    expect(scheduler.choose(req(2, { model: 'b:latest' }))).toBe(other);
  });

  it('yields when the model has left its upstream memory but is loaded on another', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 4, priority: 10, models: ['m:latest'] },
      { id: 2, maxParallel: 4, models: ['m:latest'] },
    ]);
    (await scheduler.acquire(req(1, { affinity: 'c', model: 'm:latest' }))).release();
    expect(list[0]!.loaded.has('m:latest')).toBe(true);
    // The next poll: upstream 1 swapped it out, upstream 2 has it.
    list[0]!.loaded = new Set(['other:latest']);
    list[1]!.loaded = new Set(['m:latest']);
    expect(scheduler.choose(req(1, { affinity: 'c', model: 'm:latest' }))).toBe(list[1]);
    // Loaded nowhere: affinity holds (a cold start either way, and the conversation's home is known).
    list[1]!.loaded = new Set();
    expect(scheduler.choose(req(1, { affinity: 'c', model: 'm:latest' }))).toBe(list[0]);
  });

  it('yields when its upstream is down (breaker open)', async () => {
    const { scheduler, list, clock } = setup([
      { id: 1, maxParallel: 4, priority: 10 },
      { id: 2, maxParallel: 4 },
    ]);
    const first = await scheduler.acquire(req(1, { affinity: 'c' }));
    expect(first.upstream).toBe(list[0]);
    first.release();
    openBreaker(list[0]!, clock.now);
    expect(scheduler.choose(req(1, { affinity: 'c' }))).toBe(list[1]);
  });

  it('forgets the least recently used conversations beyond affinityEntries', async () => {
    const { scheduler, list } = setup(
      [
        { id: 1, maxParallel: 4, priority: 10 },
        { id: 2, maxParallel: 4 },
      ],
      { affinityEntries: 2 },
    );
    // c1 and c2 on upstream 1, then c3 on upstream 2 (upstream 1 made unattractive).
    (await scheduler.acquire(req(1, { affinity: 'c1' }))).release();
    (await scheduler.acquire(req(1, { affinity: 'c2' }))).release();
    (await scheduler.acquire(req(1, { affinity: 'c1' }))).release(); // c1 used again: c2 is now the oldest
    list[0]!.inFlight = 3;
    expect((await scheduler.acquire(req(1, { affinity: 'c3' }))).upstream).toBe(list[1]);
    list[0]!.inFlight = 0;
    list[1]!.inFlight = 1;
    // With upstream 1 the better choice, only remembered conversations go to upstream 2.
    expect(scheduler.choose(req(1, { affinity: 'c3' }))).toBe(list[1]);
    expect(scheduler.choose(req(1, { affinity: 'c1' }))).toBe(list[0]);
    expect(scheduler.choose(req(1, { affinity: 'c2' }))).toBe(list[0]);
  });
});

describe('Scheduler: reserved slots', () => {
  it('keeps the reserved slots for keys with nothing in flight there', async () => {
    const { scheduler, list } = setup([{ id: 1, maxParallel: 3, reservedSlots: 1 }]);
    const heavy = [await scheduler.acquire(req(1)), await scheduler.acquire(req(1))];
    expect(list[0]!.inFlight).toBe(2);
    // The heavy key's third request waits although a slot is free: that slot is reserved.
    const third = track(scheduler.acquire(req(1)));
    await flush();
    expect(third.settled).toBe(false);
    // A key with nothing in flight takes it at once, ahead of the heavy key's waiting request.
    const light = await scheduler.acquire(req(2));
    expect(light.upstream).toBe(list[0]);
    expect(list[0]!.inFlight).toBe(3);
    // When the light answer ends, the reserved slot is free again, not given to the heavy key.
    light.release();
    await flush();
    expect(third.settled).toBe(false);
    // When one of the heavy key's own answers ends, its waiting request takes that slot.
    heavy[0]!.release();
    await flush();
    expect(third.lease?.upstream).toBe(list[0]);
    expect(list[0]!.inFlight).toBe(2);
  });

  it('counts per upstream: a key busy on one server is a newcomer on another', async () => {
    const { scheduler, list } = setup([
      { id: 1, maxParallel: 2, reservedSlots: 1, priority: 10 },
      { id: 2, maxParallel: 2, reservedSlots: 1 },
    ]);
    const a = await scheduler.acquire(req(1));
    const b = await scheduler.acquire(req(1));
    expect(new Set([a.upstream, b.upstream])).toEqual(new Set(list));
    // Each upstream has one slot left, reserved, and key 1 is in flight on both.
    expect(scheduler.choose(req(1))).toBeUndefined();
    expect(scheduler.choose(req(2))).toBeDefined();
  });

  it('without reserved slots one key may take every slot', async () => {
    const { scheduler, list } = setup([{ id: 1, maxParallel: 3 }]);
    for (let i = 0; i < 3; i++) await scheduler.acquire(req(1));
    expect(list[0]!.inFlight).toBe(3);
  });
});

describe('Scheduler: waiting count', () => {
  it('counts every kind of arrival and departure', async () => {
    jest.useFakeTimers();
    try {
      const { scheduler } = setup([{ id: 1, maxParallel: 1 }], { queueMax: 4, queueTimeoutMs: 1_000 });
      const holder = await scheduler.acquire(req(1));
      expect(scheduler.waiting).toBe(0);
      const controller = new AbortController();
      const a = scheduler.acquire(req(1, { signal: controller.signal })).catch((e: Error) => e);
      expect(scheduler.waiting).toBe(1);
      const b = scheduler.acquire(req(2));
      const u = scheduler.acquire(req(3, { urgent: true }));
      expect(scheduler.waiting).toBe(3);
      const d = scheduler.acquire(req(4)).catch((e: Error) => e);
      expect(scheduler.waiting).toBe(4);
      await expect(scheduler.acquire(req(5))).rejects.toMatchObject({ reason: 'queue_full' });
      expect(scheduler.waiting).toBe(4);
      controller.abort();
      expect(scheduler.waiting).toBe(3);
      expect(((await a) as Error).name).toBe('AbortError');
      holder.release();
      const urgent = await u;
      expect(scheduler.waiting).toBe(2);
      urgent.release();
      expect(scheduler.waiting).toBe(1);
      const second = await b;
      jest.advanceTimersByTime(1_000);
      expect(((await d) as OverloadedError).reason).toBe('queue_timeout');
      expect(scheduler.waiting).toBe(0);
      (second as Lease).release();
      expect(scheduler.waiting).toBe(0);
      expect((second as Lease).upstream.inFlight).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
