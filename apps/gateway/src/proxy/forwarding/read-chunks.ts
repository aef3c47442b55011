import type { Readable } from 'node:stream';

const ignore = () => undefined;

/**
 * Reads an upstream body chunk by chunk through 'data' events, as `for await` over it would — but an
 * async iterator costs a promise and a few microtask turns per chunk (~2 µs), paid on each of the
 * ~50+ chunks of every streamed answer. `onChunk` runs synchronously for each chunk; when it returns
 * a promise (the client's socket is full), the body is paused until it settles. Resolves at the
 * body's end; rejects with the first error — thrown by `onChunk`, the promise it returned, or the
 * body (an abort, a timeout, a cut connection, a close before the end) — like the loop would.
 * The caller destroys the body on a rejection, as after a loop that threw.
 */
export function readChunks(body: Readable, onChunk: (chunk: Buffer) => Promise<void> | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let pending: Promise<void> | undefined;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      // An error after the end (or after giving up) must not go unhandled.
      body.on('error', ignore);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      let wait: Promise<void> | undefined;
      try {
        wait = onChunk(chunk);
      } catch (error) {
        finish(error);
        return;
      }
      if (wait) {
        body.pause();
        pending = wait;
        wait.then(() => {
          pending = undefined;
          if (!settled) body.resume();
        }, finish);
      }
    };
    // The body may end or fail while a chunk's wait is pending: the loop would have awaited that
    // first (a client that stalls meanwhile is a stalled client, not an upstream failure).
    const after = (error?: unknown) => (pending ? void pending.then(() => finish(error), finish) : finish(error));
    const onEnd = () => after();
    const onError = (error: unknown) => after(error ?? new Error('the upstream body failed'));
    const onClose = () => {
      if (!body.readableEnded) after(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}
