import { jest } from '@jest/globals';
import { Batcher } from './batcher.js';

/** A batch function under the test's control: records each batch and lets the test finish it. */
function controlled<I, R>() {
  const calls: { items: I[]; resolve: (results: readonly R[]) => void; reject: (error: unknown) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run = (items: I[]) =>
    new Promise<readonly R[]>((resolve, reject) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const done = <T>(fn: (value: T) => void) => (value: T) => {
        inFlight--;
        fn(value);
      };
      calls.push({ items, resolve: done(resolve), reject: done(reject) });
    });
  return { run, calls, maxInFlight: () => maxInFlight };
}

/** Lets queued microtasks (the batcher's flush, resolution callbacks) run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('sends a lone item at once, as a batch of one', async () => {
    const run = jest.fn(async (items: number[]) => items.map((n) => n * 10));
    const batcher = new Batcher(run);
    await expect(batcher.submit(4)).resolves.toBe(40);
    expect(run).toHaveBeenCalledTimes(1);
    expect(run).toHaveBeenCalledWith([4]);
    expect(batcher.stats).toEqual({ batches: 1, items: 1, largest: 1 });
  });

  it('queues items while a batch is in flight and sends them together, in submission order, when it returns', async () => {
    const { run, calls, maxInFlight } = controlled<string, string>();
    const batcher = new Batcher(run);
    const first = batcher.submit('a');
    await tick();
    expect(calls.map((c) => c.items)).toEqual([['a']]);

    const queued = ['b', 'c', 'd'].map((item) => batcher.submit(item));
    await tick();
    expect(calls).toHaveLength(1); // still waiting for the first batch
    expect(batcher.pending).toBe(3);

    calls[0]!.resolve(['A']);
    await expect(first).resolves.toBe('A');
    await tick();
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1]!.resolve(['B', 'C', 'D']);
    await expect(Promise.all(queued)).resolves.toEqual(['B', 'C', 'D']);
    expect(maxInFlight()).toBe(1);
  });

  it('puts items submitted in the same turn of the event loop into one batch', async () => {
    const run = jest.fn(async (items: number[]) => items.map((n) => -n));
    const batcher = new Batcher(run);
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.submit(n)));
    expect(results).toEqual([-1, -2, -3, -4, -5]);
    expect(run.mock.calls).toEqual([[[1, 2, 3, 4, 5]]]);
  });

  it('caps a batch at maxBatch and sends the rest in the batches after, in order', async () => {
    const run = jest.fn(async (items: number[]) => items);
    const batcher = new Batcher(run, { maxBatch: 256 });
    const items = Array.from({ length: 600 }, (_, i) => i);
    expect(await Promise.all(items.map((i) => batcher.submit(i)))).toEqual(items);
    expect(run.mock.calls.map(([batch]) => batch.length)).toEqual([256, 256, 88]);
    expect(run.mock.calls.flatMap(([batch]) => batch)).toEqual(items);
    expect(batcher.stats).toEqual({ batches: 3, items: 600, largest: 256 });
  });

  it('rejects every item of a failing batch with its error, and still runs the next batch', async () => {
    const { run, calls } = controlled<number, number>();
    const batcher = new Batcher(run);
    const failing = [1, 2].map((n) => batcher.submit(n));
    await tick();
    const next = [3, 4].map((n) => batcher.submit(n));
    const error = Object.assign(new Error('connection terminated'), { code: '57P01' });
    calls[0]!.reject(error);
    for (const result of await Promise.allSettled(failing)) expect(result).toEqual({ status: 'rejected', reason: error });
    await tick();
    expect(calls[1]!.items).toEqual([3, 4]);
    calls[1]!.resolve([30, 40]);
    await expect(Promise.all(next)).resolves.toEqual([30, 40]);
  });

  it('rejects the items when the batch function throws synchronously, and recovers', async () => {
    let fail = true;
    const batcher = new Batcher((items: number[]) => {
      if (fail) throw new Error('bad statement');
      return Promise.resolve(items);
    });
    await expect(Promise.all([batcher.submit(1), batcher.submit(2)])).rejects.toThrow('bad statement');
    fail = false;
    await expect(batcher.submit(3)).resolves.toBe(3);
  });

  it('rejects the whole batch when the results do not match the items one to one', async () => {
    const batcher = new Batcher(async (items: number[]) => items.slice(1));
    const results = await Promise.allSettled([batcher.submit(1), batcher.submit(2), batcher.submit(3)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toEqual(new Error('batch of 3 returned 2 results'));
  });

  it('routes each result to its caller, also for items submitted from a result callback', async () => {
    const run = jest.fn(async (items: { caller: number; value: number }[]) => items.map((item) => `${item.caller}:${item.value * 2}`));
    const batcher = new Batcher(run);
    // Each caller submits twice, the second time after its first result (as an 'estimate' answer does).
    const callers = await Promise.all(
      [1, 2, 3].map(async (caller) => {
        const first = await batcher.submit({ caller, value: caller });
        const second = await batcher.submit({ caller, value: caller * 100 });
        return [first, second];
      }),
    );
    expect(callers).toEqual([
      ['1:2', '1:200'],
      ['2:4', '2:400'],
      ['3:6', '3:600'],
    ]);
    expect(run.mock.calls.map(([batch]) => batch.map((i) => i.caller))).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it('runs the items of a batch alone when it fails with an error that depends on an item, so only that item fails', async () => {
    const sent: number[][] = [];
    const batcher = new Batcher(
      async (items: number[]) => {
        sent.push(items);
        if (items.includes(13)) throw Object.assign(new Error('value out of range'), { code: '22003' });
        return items.map((n) => n + 1);
      },
      { isolate: (error) => (error as { code?: string }).code?.startsWith('22') === true },
    );
    const results = await Promise.allSettled([1, 13, 2].map((n) => batcher.submit(n)));
    expect(results).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'rejected', reason: expect.objectContaining({ message: 'value out of range' }) },
      { status: 'fulfilled', value: 3 },
    ]);
    expect(sent).toEqual([[1, 13, 2], [1], [13], [2]]);
  });

  it('does not run the items alone for other errors (a lost connection fails the whole batch once)', async () => {
    let calls = 0;
    const batcher = new Batcher(
      async (_items: number[]): Promise<number[]> => {
        calls++;
        throw Object.assign(new Error('Connection terminated'), { code: undefined });
      },
      { isolate: (error) => (error as { code?: string }).code?.startsWith('22') === true },
    );
    const results = await Promise.allSettled([1, 2, 3].map((n) => batcher.submit(n)));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(calls).toBe(1);
  });
});
