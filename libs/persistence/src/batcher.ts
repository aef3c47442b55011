/**
 * Natural batching: many callers' items go to the database in one statement, without a timer.
 *
 * Why: on PostgreSQL every autocommit statement is its own transaction and ends in a commit (a WAL
 * flush), and every admission of a key waits for the previous one's commit (they serialize on the
 * key's advisory lock). Sending the items that arrived meanwhile as one statement — one transaction,
 * one commit, one round trip — divides that cost by the batch size while each decision is still made
 * by the database, under the same locks, in the same order.
 *
 * How: when nothing is in flight, an item is sent at once (a batch of one; the flush waits only for
 * the end of the current microtask queue, so items submitted in the same turn of the event loop
 * share it). While a batch is in flight, new items queue; when it returns, everything queued (up to
 * `maxBatch`, the rest in the batches after) goes as the next batch. So batches grow only when the
 * database is the bottleneck, and a lone request never waits for a timer.
 *
 * Each item's promise settles on its own: `run` returns one result per item, in the items' order.
 * A batch that fails (the statement, the connection, a result count that does not match) rejects
 * every item in it with that error — the callers fail closed — and the next batch still runs.
 * Batches run one after another, in submission order.
 *
 * One item must not fail its neighbours: when a batch of several fails with an error `isolate`
 * accepts (e.g. PostgreSQL's data and constraint errors, which depend on an item's values, as
 * opposed to a lost connection), each of its items is run again alone, in order, so only the item
 * that causes the error fails.
 */
export class Batcher<I, R> {
  private queue: Entry<I, R>[] = [];
  private busy = false;
  private readonly maxBatch: number;
  private readonly isolate: (error: unknown) => boolean;
  /** Batches run and items sent so far, and the largest batch (for tests and diagnostics). */
  readonly stats = { batches: 0, items: 0, largest: 0 };

  constructor(
    private readonly run: (items: I[]) => Promise<readonly R[]>,
    options: { maxBatch?: number; isolate?: (error: unknown) => boolean } = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 256);
    this.isolate = options.isolate ?? (() => false);
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.busy) {
        this.busy = true;
        queueMicrotask(() => this.next());
      }
    });
  }

  /** Items waiting for the next batch (not counting the one in flight). */
  get pending(): number {
    return this.queue.length;
  }

  private next(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) {
      this.busy = false;
      return;
    }
    this.send(batch)
      .then(undefined, async (error: unknown) => {
        if (batch.length > 1 && this.isolates(error)) {
          for (const entry of batch) await this.send([entry]).catch((itemError: unknown) => entry.reject(itemError));
        } else {
          for (const entry of batch) entry.reject(error);
        }
      })
      .finally(() => this.next());
  }

  private isolates(error: unknown): boolean {
    try {
      return this.isolate(error);
    } catch {
      return false;
    }
  }

  /** Runs one batch and resolves its items; rejects (settling none of them) if the batch fails. */
  private async send(batch: Entry<I, R>[]): Promise<void> {
    this.stats.batches++;
    this.stats.items += batch.length;
    this.stats.largest = Math.max(this.stats.largest, batch.length);
    const values = await this.run(batch.map((entry) => entry.item));
    if (!Array.isArray(values) || values.length !== batch.length) {
      throw new Error(`batch of ${batch.length} returned ${Array.isArray(values) ? values.length : 'no'} results`);
    }
    batch.forEach((entry, i) => entry.resolve(values[i] as R));
  }
}

interface Entry<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}
