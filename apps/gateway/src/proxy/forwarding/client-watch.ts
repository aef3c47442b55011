import type { Request, Response } from 'express';

/** A client stopped reading: a write stayed blocked longer than CLIENT_STALL_TIMEOUT_S. */
export class ClientStalledError extends Error {
  constructor(stallMs: number) {
    super(`the client read nothing for ${Math.round(stallMs / 1000)} s; the stream was cut`);
    this.name = 'ClientStalledError';
  }
}

export interface WatchedClient {
  /** Aborted when the client goes away before the response finished (or had already gone). */
  abort: AbortController;
  /**
   * Resolves once the response's buffer drains. A client that reads nothing for `stallMs` gets its
   * connection cut (which aborts the exchange) and this rejects with ClientStalledError, so a client
   * that stops reading cannot hold Ollama, its key's slot and reserved tokens for ever.
   */
  drained(): Promise<void>;
  /** Stops watching. */
  release(): void;
}

/**
 * Watches the client of one exchange from before admission on. A client that left before the watch
 * began (while its key was looked up or admission waited on the database) is gone at once: its
 * `close` event has passed, so the abort is set from the socket's state instead.
 */
export function watchClient(request: Request, response: Response, stallMs: number): WatchedClient {
  const abort = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) abort.abort();
  };
  response.on('close', onClose);
  // Not `request.destroyed`: a request is destroyed as soon as its body has been read.
  if (response.destroyed || request.socket.destroyed) abort.abort();
  return {
    abort,
    release: () => response.off('close', onClose),
    drained: () =>
      new Promise<void>((resolve, reject) => {
        if (abort.signal.aborted) return reject(abortReason(abort));
        const done = (settle: () => void) => () => {
          clearTimeout(timer);
          response.off('drain', onDrain);
          abort.signal.removeEventListener('abort', onAbort);
          settle();
        };
        const onDrain = done(resolve);
        const onAbort = done(() => reject(abortReason(abort)));
        const timer = setTimeout(
          done(() => {
            reject(new ClientStalledError(stallMs));
            response.destroy();
          }),
          stallMs,
        );
        response.on('drain', onDrain);
        abort.signal.addEventListener('abort', onAbort);
      }),
  };
}

function abortReason(abort: AbortController): Error {
  const error = new Error('the client went away');
  error.name = 'AbortError';
  return abort.signal.reason instanceof Error ? abort.signal.reason : error;
}
