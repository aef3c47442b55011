import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * Counts one listener's requests in flight and stops it gracefully: no new connections, idle
 * keep-alive connections closed (and each one that becomes idle), in-flight requests left to finish.
 */
export class ListenerDrain {
  private active = 0;
  private stopping = false;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly server: Server) {
    server.on('request', this.onRequest);
  }

  /** Requests whose response has not closed yet. */
  get inFlight(): number {
    return this.active;
  }

  /** Closes the listening socket; connections with a request in flight stay open. */
  stopAccepting(): void {
    this.stopping = true;
    // Node >= 19 closes idle keep-alive connections here too.
    this.server.close();
  }

  /** Resolves true once no request is in flight, or false at `deadline` (epoch ms). */
  whenIdle(deadline: number): Promise<boolean> {
    if (this.active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve(false);
      }, Math.max(0, deadline - Date.now()));
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(true);
      };
      this.waiters.add(wake);
    });
  }

  /** Destroys every connection left (the requests on them see their client go away). */
  closeAll(): void {
    this.server.closeAllConnections();
  }

  private readonly onRequest = (_request: IncomingMessage, response: ServerResponse): void => {
    this.active++;
    response.on('close', this.onResponseClosed);
  };

  private readonly onResponseClosed = (): void => {
    this.active--;
    if (!this.stopping) return;
    // The connection that carried this response is idle from the next tick on: close it.
    setImmediate(() => this.server.closeIdleConnections());
    if (this.active === 0) for (const wake of [...this.waiters]) wake();
  };
}
