#!/usr/bin/env node
/**
 * A fast Ollama-compatible upstream for load tests: plain node:http, no framework, no per-request
 * scripting (test/upstream/fake-ollama.ts is the feature-rich one for e2e tests; this one only has to
 * be cheap, so the server under test is what a benchmark measures).
 *
 *   node bench/upstream.mjs [--port 11434] [--host 127.0.0.1] [--chunks 50] [--delay-ms 0] [--burst] [--loaded]
 *
 * Prints one JSON line `{"listening":<port>}` on stdout once it accepts connections.
 *
 * - POST /api/chat, /api/generate: NDJSON stream (default) or one JSON object (`"stream": false`).
 *   `chunks` content chunks (one token each), then the final `done: true` chunk with
 *   `done_reason`, durations, `prompt_eval_count` (~ prompt bytes / 4) and `eval_count`.
 *   `options.num_predict` >= 0 caps the chunk count (then `done_reason` is "length").
 *   `delayMs` between chunks (a non-streaming answer waits chunks × delayMs); with 0 each chunk is
 *   still its own write on the next turn of the event loop, as tokens leave Ollama one by one
 *   (`--burst` writes them all at once instead).
 * - GET /api/tags, POST /api/show, GET /api/ps, GET /api/version, GET / and HEAD /. /api/ps lists no
 *   model, or with `--loaded` bench:latest as loaded in memory (as a real Ollama after its first
 *   answer), so a gateway's scheduler sees the model loaded on every such upstream.
 * - Bench control (never forwarded by the gateway's routes, only called directly by the runner):
 *   GET/POST /__bench/config `{chunks, delayMs, burst}`, GET /__bench/stats (in-flight streams and
 *   their maximum, requests), POST /__bench/stats/reset.
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';

export const MODELS = ['bench:latest', 'llama3.2:latest', 'qwen3:4b'];
const VERSION = '0.12.3';
const TOKENS = [' The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.'];

const tagsBody = JSON.stringify({
  models: MODELS.map((name) => ({
    name,
    model: name,
    modified_at: '2025-06-01T12:00:00.000000000Z',
    size: 2019393189,
    digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
    details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
  })),
});

function showBody(model) {
  return JSON.stringify({
    license: '',
    modelfile: `FROM ${model}`,
    parameters: 'stop "<|eot_id|>"',
    template: '{{ .Prompt }}',
    details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '3.2B', quantization_level: 'Q4_K_M' },
    model_info: { 'general.architecture': 'llama', 'llama.context_length': 131072 },
    capabilities: model.startsWith('qwen3') ? ['completion', 'tools', 'thinking'] : ['completion', 'tools'],
    modified_at: '2025-06-01T12:00:00.000000000Z',
  });
}

/** Creates the server (not yet listening). `config` is live: the control endpoint changes it. */
export function createUpstream(initial = {}) {
  const config = { chunks: 50, delayMs: 0, burst: false, loaded: false, ...initial };
  const stats = { requests: 0, inflight: 0, maxInflight: 0 };
  const psBody = JSON.stringify({
    models: config.loaded
      ? [{ name: MODELS[0], model: MODELS[0], size: 2019393189, digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72', details: { format: 'gguf', family: 'llama' }, expires_at: '2099-01-01T00:00:00Z', size_vram: 2019393189 }]
      : [],
  });

  const send = (res, status, text, type = 'application/json; charset=utf-8') => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    stats.requests++;
    const url = req.url ?? '/';
    if (req.method === 'GET' || req.method === 'HEAD') {
      req.resume();
      if (url === '/' || url === '') return send(res, 200, 'Ollama is running', 'text/plain; charset=utf-8');
      if (url === '/api/version') return send(res, 200, `{"version":"${VERSION}"}`);
      if (url === '/api/tags') return send(res, 200, tagsBody);
      if (url === '/api/ps') return send(res, 200, psBody);
      if (url === '/__bench/config') return send(res, 200, JSON.stringify(config));
      if (url === '/__bench/stats') return send(res, 200, JSON.stringify(stats));
      return send(res, 404, '404 page not found', 'text/plain');
    }
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      const raw = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      let body;
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
      } catch {
        return send(res, 400, '{"error":"invalid character in request body"}');
      }
      if (url === '/__bench/config') {
        for (const k of ['chunks', 'delayMs', 'burst']) if (body[k] !== undefined) config[k] = body[k];
        return send(res, 200, JSON.stringify(config));
      }
      if (url === '/__bench/stats/reset') {
        stats.requests = 0;
        stats.maxInflight = stats.inflight;
        return send(res, 200, JSON.stringify(stats));
      }
      if (url === '/api/show') {
        if (typeof body.model !== 'string' && typeof body.name !== 'string') return send(res, 400, '{"error":"model is required"}');
        return send(res, 200, showBody(body.model ?? body.name));
      }
      if (url === '/api/chat' || url === '/api/generate') return generate(req, res, body, url === '/api/chat', raw.length);
      return send(res, 404, '404 page not found', 'text/plain');
    });
  });

  function generate(req, res, body, chat, promptBytes) {
    if (typeof body.model !== 'string' || body.model === '') return send(res, 400, '{"error":"model is required"}');
    const model = JSON.stringify(body.model);
    const numPredict = body.options?.num_predict;
    const wanted = config.chunks;
    const n = typeof numPredict === 'number' && numPredict >= 0 ? Math.min(wanted, Math.floor(numPredict)) : wanted;
    const doneReason = n < wanted ? 'length' : 'stop';
    const promptEvalCount = Math.max(1, Math.ceil(promptBytes / 4));
    const createdAt = new Date().toISOString();
    const delay = config.delayMs;
    const head = `{"model":${model},"created_at":"${createdAt}",`;
    const piece = (text) => (chat ? `"message":{"role":"assistant","content":${JSON.stringify(text)}}` : `"response":${JSON.stringify(text)}`);
    const final = () =>
      `"done":true,"done_reason":"${doneReason}","total_duration":${1_000_000 + n * 20_000_000},"load_duration":1000000,` +
      `"prompt_eval_count":${promptEvalCount},"prompt_eval_duration":5000000,"eval_count":${n},"eval_duration":${n * 20_000_000}}`;

    stats.inflight++;
    if (stats.inflight > stats.maxInflight) stats.maxInflight = stats.inflight;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      stats.inflight--;
    };
    res.on('close', finish);

    if (body.stream === false) {
      const answer = () => {
        let text = '';
        for (let i = 0; i < n; i++) text += TOKENS[i % TOKENS.length];
        send(res, 200, `${head}${piece(text)},${final()}`);
      };
      if (delay > 0 && n > 0) setTimeout(answer, n * delay);
      else answer();
      return;
    }

    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    if (config.burst && delay <= 0) {
      let out = '';
      for (let i = 0; i < n; i++) out += `${head}${piece(TOKENS[i % TOKENS.length])},"done":false}\n`;
      res.end(`${out}${head}${piece('')},${final()}\n`);
      return;
    }
    let i = 0;
    const step = () => {
      if (res.destroyed) return;
      if (i < n) {
        res.write(`${head}${piece(TOKENS[i % TOKENS.length])},"done":false}\n`);
        i++;
        if (delay > 0) setTimeout(step, delay);
        else setImmediate(step);
        return;
      }
      res.end(`${head}${piece('')},${final()}\n`);
    };
    step();
  }

  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  return { server, config, stats };
}

function parseArgs(argv) {
  const out = { port: 11434, host: '127.0.0.1', chunks: 50, delayMs: 0, burst: false, loaded: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') out.port = Number(argv[++i]);
    else if (a === '--host') out.host = argv[++i];
    else if (a === '--chunks') out.chunks = Number(argv[++i]);
    else if (a === '--delay-ms') out.delayMs = Number(argv[++i]);
    else if (a === '--burst') out.burst = true;
    else if (a === '--loaded') out.loaded = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = parseArgs(process.argv.slice(2));
  const { server } = createUpstream({ chunks: args.chunks, delayMs: args.delayMs, burst: args.burst, loaded: args.loaded });
  server.listen(args.port, args.host, () => {
    process.stdout.write(`${JSON.stringify({ listening: server.address().port })}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
