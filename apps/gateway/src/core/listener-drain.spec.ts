import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListenerDrain } from './listener-drain.js';

/** A server whose responses wait until the test ends them. */
async function heldServer() {
  const held: ServerResponse[] = [];
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.write('first part\n');
    held.push(response);
  });
  const drain = new ListenerDrain(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { server, drain, held, url };
}

/** A GET with node:http (its own connection each time); resolves with the body or rejects. */
function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
      response.on('error', reject);
      response.on('aborted', () => reject(new Error('aborted')));
    });
    request.on('error', reject);
    request.end();
  });
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('ListenerDrain', () => {
  it('counts requests in flight, refuses new connections once stopped, and waits for the held ones', async () => {
    const { drain, held, url } = await heldServer();
    const first = get(url);
    await until(() => held.length === 1);
    expect(drain.inFlight).toBe(1);

    drain.stopAccepting();
    await expect(get(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    let idle: boolean | undefined;
    const waiting = drain.whenIdle(Date.now() + 5_000).then((value) => (idle = value));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(idle).toBeUndefined();

    held[0]!.end('the rest\n');
    expect(await first).toBe('first part\nthe rest\n');
    await waiting;
    expect(idle).toBe(true);
    expect(drain.inFlight).toBe(0);
  });

  it('gives up at the deadline, and closeAll cuts what is left', async () => {
    const { drain, held, url } = await heldServer();
    const first = get(url);
    await until(() => held.length === 1);
    drain.stopAccepting();
    const started = Date.now();
    expect(await drain.whenIdle(Date.now() + 100)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    drain.closeAll();
    await expect(first).rejects.toThrow();
    expect(await drain.whenIdle(Date.now() + 1_000)).toBe(true);
  });

  it('is idle at once when nothing is in flight', async () => {
    const { drain } = await heldServer();
    drain.stopAccepting();
    expect(await drain.whenIdle(Date.now())).toBe(true);
  });
});
