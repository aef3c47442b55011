import { PassThrough, Readable } from 'node:stream';
import { readChunks } from './read-chunks.js';

describe('readChunks', () => {
  it('hands over every chunk in order and resolves at the end', async () => {
    const seen: string[] = [];
    await readChunks(Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]), (chunk) => {
      seen.push(chunk.toString());
      return undefined;
    });
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('pauses the body while the returned promise is pending', async () => {
    const body = new PassThrough();
    const seen: string[] = [];
    let release!: () => void;
    const done = readChunks(body, (chunk) => {
      seen.push(chunk.toString());
      return seen.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : undefined;
    });
    body.write('1');
    await new Promise((resolve) => setImmediate(resolve));
    body.write('2');
    body.end();
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['1']);
    expect(body.isPaused()).toBe(true);
    release();
    await done;
    expect(seen).toEqual(['1', '2']);
  });

  it('waits for the last chunk\'s promise before resolving at the end', async () => {
    let release!: () => void;
    let resolved = false;
    const done = readChunks(Readable.from([Buffer.from('last')]), () => new Promise<void>((resolve) => (release = resolve))).then(() => {
      resolved = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(resolved).toBe(false);
    release();
    await done;
    expect(resolved).toBe(true);
  });

  it('rejects with what onChunk throws, or with the promise it returned', async () => {
    const thrown = new Error('line too long');
    await expect(
      readChunks(Readable.from([Buffer.from('a')]), () => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    const stalled = new Error('stalled');
    await expect(readChunks(Readable.from([Buffer.from('a')]), () => Promise.reject(stalled))).rejects.toBe(stalled);
  });

  it("rejects with the body's error and on a close before the end; a later error is not unhandled", async () => {
    const failing = new PassThrough();
    const reading = readChunks(failing, () => undefined);
    const cut = new Error('aborted');
    failing.destroy(cut);
    await expect(reading).rejects.toBe(cut);

    const closed = new PassThrough();
    const early = readChunks(closed, () => undefined);
    closed.destroy();
    await expect(early).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });

    const ended = new PassThrough();
    const whole = readChunks(ended, () => undefined);
    ended.end('x');
    await whole;
    ended.destroy(new Error('after the end'));
    await new Promise((resolve) => setImmediate(resolve));
  });
});
