import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenExchange {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The request body as sent. */
  body: string;
  status?: number;
  /** The response body as answered (complete once the exchange is over). */
  answer: string;
}

export interface RecordingForwarder {
  url: string;
  seen: SeenExchange[];
  close(): Promise<void>;
}

/**
 * Passes every request through to `target` unchanged (streamed both ways) and records what went by,
 * both ways: a test of a real client (Claude Code) can check what it sent and what it was answered,
 * without guessing from the gateway's side.
 */
export async function startRecordingForwarder(target: string): Promise<RecordingForwarder> {
  const upstream = new URL(target);
  const seen: SeenExchange[] = [];
  const server = http.createServer((req, res) => {
    const entry: SeenExchange = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: '', answer: '' };
    seen.push(entry);
    req.on('data', (chunk: Buffer) => (entry.body += chunk.toString('utf8')));
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      entry.status = answer.statusCode;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on('data', (chunk: Buffer) => (entry.answer += chunk.toString('utf8')));
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
