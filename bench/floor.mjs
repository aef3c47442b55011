#!/usr/bin/env node
/**
 * The framework floor: what forwarding one non-streaming /api/chat costs in each layer llmproxy is
 * built from, with nothing of llmproxy's own (no key, no quota, no metering). Same method as run.mjs:
 * the server alone on core 0, the fast upstream and autocannon on core 1, c=32, CPU µs per request
 * from /proc. Every variant reads the body, parses it, re-serialises it and forwards it with undici.
 *
 *   node bench/floor.mjs [--duration 5] [--reps 3] [--variants http,express,express-direct,nest,nest-pipeline]
 *
 * Variants (each is this file started with `--serve <variant>`):
 *   http            node:http + undici: the floor of any Node proxy that parses the body
 *   express         Express 5 as is (re-parents every request and response with setPrototypeOf)
 *   express-direct  Express 5 with node:http creating Express's objects (what llmproxy does)
 *   nest            Nest on that Express, one @Post handler
 *   nest-pipeline   the same plus a guard and two interceptors that do nothing (llmproxy's shape)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};

if (process.argv.includes('--serve')) await serve(arg('--serve'), Number(arg('--port')), arg('--upstream'));
else await measure();

async function serve(variant, port, upstream) {
  const { Agent } = await import('undici');
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: null });
  /** The work every variant does: read, parse, re-serialise, forward, pass the answer back. */
  const forward = async (req, res) => {
    const parts = [];
    for await (const chunk of req) parts.push(chunk);
    const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    const answer = await agent.request({ origin: upstream, path: '/api/chat', method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    res.statusCode = answer.statusCode;
    res.setHeader('content-type', answer.headers['content-type']);
    const whole = [];
    for await (const chunk of answer.body) whole.push(chunk);
    res.end(Buffer.concat(whole));
  };
  const listening = (server) => server.listen(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ listening: port })}\n`));
  process.on('SIGTERM', () => process.exit(0));
  if (variant === 'http') return listening(http.createServer(forward));
  const { default: express } = await import('express');
  const directServer = (app) => {
    // What apps/gateway/src/core/express-adapter.ts does.
    const expressClass = (base, prototype) => {
      function ExpressObject(...args) {
        base.apply(this, args);
      }
      ExpressObject.prototype = prototype;
      return ExpressObject;
    };
    return http.createServer({ IncomingMessage: expressClass(http.IncomingMessage, app.request), ServerResponse: expressClass(http.ServerResponse, app.response) }, app);
  };
  if (variant === 'express' || variant === 'express-direct') {
    const app = express();
    app.post('/api/chat', forward);
    return listening(variant === 'express' ? http.createServer(app) : directServer(app));
  }
  await import('reflect-metadata');
  const { Controller, Module, Post, Req, Res, UseGuards, UseInterceptors } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { ExpressAdapter } = await import('@nestjs/platform-express');
  const { finalize } = await import('rxjs');
  class Adapter extends ExpressAdapter {
    initHttpServer() {
      this.httpServer = directServer(this.getInstance());
    }
  }
  class ChatController {
    chat(req, res) {
      return forward(req, res);
    }
  }
  const method = Object.getOwnPropertyDescriptor(ChatController.prototype, 'chat');
  Req()(ChatController.prototype, 'chat', 0);
  Res()(ChatController.prototype, 'chat', 1);
  Post('api/chat')(ChatController.prototype, 'chat', method);
  if (variant === 'nest-pipeline') {
    class Guard {
      async canActivate(context) {
        context.switchToHttp().getRequest().checked = true;
        return true;
      }
    }
    class First {
      async intercept(context, next) {
        context.switchToHttp().getRequest().first = true;
        return next.handle();
      }
    }
    class Second {
      async intercept(context, next) {
        return next.handle().pipe(finalize(() => (context.switchToHttp().getRequest().done = true)));
      }
    }
    UseGuards(Guard)(ChatController);
    UseInterceptors(First, Second)(ChatController);
  }
  Controller()(ChatController);
  class AppModule {}
  Module({ controllers: [ChatController] })(AppModule);
  const app = await NestFactory.create(AppModule, new Adapter(), { bodyParser: false, logger: ['error'] });
  await app.init();
  listening(app.getHttpServer());
}

async function measure() {
  const { default: autocannon } = await import('autocannon');
  const duration = Number(arg('--duration', '5'));
  const reps = Number(arg('--reps', '3'));
  const variants = arg('--variants', 'http,express,express-direct,nest,nest-pipeline').split(',');
  const children = new Set();
  process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));
  const start = async (core, args) => {
    const child = spawn('taskset', ['-c', String(core), process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    await new Promise((resolve, reject) => {
      child.stdout.once('data', resolve);
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    });
    return child;
  };
  const upstreamPort = 18_700;
  await start(1, [path.join(HERE, 'upstream.mjs'), '--port', String(upstreamPort)]);
  const cpuMicros = (pid) => {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * (1_000_000 / 100);
  };
  const body = JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'Say hello in one sentence.' }], stream: false, options: { num_predict: 1024 } });
  const rows = [];
  for (const [index, variant] of variants.entries()) {
    const port = upstreamPort + 1 + index;
    const server = await start(0, [fileURLToPath(import.meta.url), '--serve', variant, '--port', String(port), '--upstream', `http://127.0.0.1:${upstreamPort}`]);
    const run = (seconds) =>
      autocannon({ url: `http://127.0.0.1:${port}/api/chat`, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections: 32, duration: seconds });
    await run(1);
    const samples = [];
    for (let rep = 0; rep < reps; rep++) {
      const before = cpuMicros(server.pid);
      const result = await run(duration);
      samples.push({ rps: result['2xx'] / result.duration, cpu: (cpuMicros(server.pid) - before) / result['2xx'], failed: result.non2xx + result.errors });
    }
    server.kill('SIGTERM');
    const median = (key) => samples.map((s) => s[key]).sort((a, b) => a - b)[Math.floor(samples.length / 2)];
    rows.push({ variant, rps: median('rps'), cpu: median('cpu'), failed: samples.reduce((n, s) => n + s.failed, 0) });
    console.error(`${variant}: ${Math.round(median('rps'))} req/s, ${Math.round(median('cpu'))} µs CPU/req`);
  }
  const http0 = rows.find((r) => r.variant === 'http');
  console.log('| variant | req/s | vs node:http | server CPU µs/req | failed |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const ratio = http0 ? `${Math.round((100 * r.rps) / http0.rps)} %` : '–';
    console.log(`| ${r.variant} | ${Math.round(r.rps).toLocaleString('en-US')} | ${ratio} | ${Math.round(r.cpu)} | ${r.failed} |`);
  }
  process.exit(0);
}
