#!/usr/bin/env node
/**
 * The floor any Node proxy can reach: a node:http reverse proxy that pipes request and response
 * bodies with keep-alive to the upstream and does nothing else (no auth, no parsing, no metering).
 *
 *   node bench/thin-proxy.mjs --port 8100 --upstream http://127.0.0.1:11434
 *
 * Prints `{"listening":<port>}` on stdout once it accepts connections.
 */
import http from 'node:http';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const target = new URL(arg('--upstream', 'http://127.0.0.1:11434'));
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });

const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end('{"error":"bad gateway"}');
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(arg('--port', '8100')), arg('--host', '127.0.0.1'), () => {
  process.stdout.write(`${JSON.stringify({ listening: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
