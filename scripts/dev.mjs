#!/usr/bin/env node
// `npm run dev`: the backend rebuilt and restarted on every change, and `ng serve` with /api proxied
// to the admin port (angular-admin/proxy.conf.json), together; Ctrl-C stops everything.
// tsc -w compiles; after each compilation tsc-alias rewrites the @llmproxy/* imports and only then is
// the server restarted, so it never starts on half-rewritten output.
import { spawn, spawnSync } from 'node:child_process';

const config = ['-p', 'apps/gateway/tsconfig.app.json'];
// LLMPROXY_DEV=1 is the dev server's way past the 12-character minimum of ADMIN_PASSWORD (libs/config):
// the default password here is `dev`. Only this environment sets it; .env cannot.
const env = { ...process.env, ADMIN_PASSWORD: process.env.ADMIN_PASSWORD ?? 'dev', LLMPROXY_DEV: '1' };
const children = new Set();
let stopping = false;
let server;

function run(name, command, args) {
  // Own process group each, so Ctrl-C reaches what npx and npm start underneath.
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (data) => {
      process.stdout.write(String(data).replace(/^(?=.)/gm, `[${name}] `));
      if (name === 'tsc' && /Found \d+ errors?\. Watching for file changes/.test(String(data))) restartServer();
    });
  }
  child.on('exit', (code) => {
    children.delete(child);
    if (!stopping && name !== 'api') console.log(`[${name}] exited with ${code}`);
  });
  return child;
}

function kill(child) {
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

function restartServer() {
  const alias = spawnSync('npx', ['tsc-alias', ...config], { stdio: 'inherit' });
  if (alias.status !== 0) return;
  // The key holder page's files (tsc does not copy them): fresh on every restart.
  spawnSync(process.execPath, ['scripts/copy-assets.mjs'], { stdio: 'inherit' });
  const start = () => (server = run('api', process.execPath, ['dist/apps/gateway/src/main.js']));
  if (!server || server.exitCode !== null) return start();
  server.once('exit', start);
  kill(server);
}

run('tsc', 'npx', ['tsc', '-w', '--preserveWatchOutput', ...config]);
run('ui', 'npm', ['--prefix', 'angular-admin', 'start']);

const stop = () => {
  stopping = true;
  for (const child of children) kill(child);
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
console.log('llmproxy dev: API on :8000/:8001 (ADMIN_PASSWORD defaults to "dev"; LLMPROXY_DEV=1 lets a short one through), UI on http://localhost:4200');
