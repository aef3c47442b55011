#!/usr/bin/env node
// `npm run dev`: the backend in watch mode (tsc -w, tsc-alias -w, node --watch) and `ng serve`
// with /api proxied to the admin port (angular-admin/proxy.conf.json), together; Ctrl-C stops all.
import { spawn, spawnSync } from 'node:child_process';

const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const config = ['-p', 'apps/gateway/tsconfig.app.json'];
const children = [
  ['tsc', ['npx', 'tsc', '-w', '--preserveWatchOutput', ...config]],
  ['alias', ['npx', 'tsc-alias', '-w', ...config]],
  ['api', [process.execPath, '--watch', 'dist/apps/gateway/src/main.js']],
  ['ui', ['npm', '--prefix', 'angular-admin', 'start']],
].map(([name, [command, ...args]]) => {
  // Own process group each, so Ctrl-C reaches what npx and npm start underneath.
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ADMIN_PASSWORD: process.env.ADMIN_PASSWORD ?? 'dev' } });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (data) => process.stdout.write(String(data).replace(/^(?=.)/gm, `[${name}] `)));
  }
  child.on('exit', (code) => {
    if (!stopping) console.log(`[${name}] exited with ${code}`);
  });
  return child;
});

let stopping = false;
const stop = () => {
  stopping = true;
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
console.log('llmproxy dev: API on :8000/:8001 (ADMIN_PASSWORD defaults to "dev"), UI on http://localhost:4200');
