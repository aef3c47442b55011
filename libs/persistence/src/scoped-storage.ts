import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * An AsyncLocalStorage that is switched off while no scope of it is open. On Node 20 and 22 an
 * enabled AsyncLocalStorage keeps an async hook on for the whole process, which runs on every promise
 * every request creates — also on the data plane, which uses none of it: the admin's audit scope and
 * the SQLite transaction turns had it on for good after the first admin request (~0.05 ms of the
 * native path's added latency at one connection, `bench/README.md`). Scopes are counted; the last one
 * to close disables the storage, and the next `open` enables it again.
 */
export class ScopedStorage<T> {
  private readonly storage = new AsyncLocalStorage<T>();
  private openScopes = 0;

  /** The store of the scope the caller runs in, if any. */
  getStore(): T | undefined {
    return this.openScopes === 0 ? undefined : this.storage.getStore();
  }

  /** Whether a scope is open (the storage, and with it Node's async hook, enabled). */
  get active(): boolean {
    return this.openScopes > 0;
  }

  /** Runs `fn` in a scope with `store` until the promise it returns settles. */
  async run<R>(store: T, fn: () => Promise<R>): Promise<R> {
    const close = this.open();
    try {
      return await this.storage.run(store, fn);
    } finally {
      close();
    }
  }

  /**
   * Runs `fn` in a scope with `store` that stays open until the returned `close` is called (once:
   * later calls do nothing), for work that goes on after `fn` returns (an HTTP request's handling).
   */
  enter(store: T, fn: () => void): () => void {
    const close = this.open();
    this.storage.run(store, fn);
    return close;
  }

  private open(): () => void {
    this.openScopes += 1;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.openScopes -= 1;
      if (this.openScopes === 0) this.storage.disable();
    };
  }
}
