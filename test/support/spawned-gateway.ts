import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ADMIN_PASSWORD } from './gateway.js';

/** The built server; the tests run from the repository root (scripts/test.sh builds it first). */
export const MAIN_JS = resolve(process.cwd(), 'dist/apps/gateway/src/main.js');

/** A free TCP port on 127.0.0.1 (the OS picks; closed again before use). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export interface SpawnedGateway {
  proxyUrl: string;
  adminUrl: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The built server as its own OS process (a second replica), ready once both ports answer.
 * `onOutput` sees the output so far each time the process writes, before it is ready too.
 */
export async function spawnGateway(env: Record<string, string>, onOutput?: (output: string) => void): Promise<SpawnedGateway> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npm run build\` first (scripts/test.sh does)`);
  const [proxyPort, adminPort] = [await freePort(), await freePort()];
  const cwd = mkdtempSync(join(tmpdir(), 'llmproxy-proc-'));
  const child = spawn(process.execPath, [MAIN_JS], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      ADMIN_PASSWORD,
      PROXY_HOST: '127.0.0.1',
      ADMIN_HOST: '127.0.0.1',
      PROXY_PORT: String(proxyPort),
      ADMIN_PORT: String(adminPort),
      LOG_LEVEL: 'warn',
      // Tests hold many streams at once on one scripted Ollama: no gateway queue unless a test asks for one.
      UPSTREAM_MAX_PARALLEL: '1024',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (data: Buffer) => {
    output += data.toString();
    onOutput?.(output);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${output}`);
    try {
      if ((await fetch(`${proxyUrl}/`)).ok && (await fetch(`${adminUrl}/api/api-keys`, { headers: { authorization: `Bearer ${ADMIN_PASSWORD}` } })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start within 20 s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proxyUrl,
    adminUrl,
    child,
    output: () => output,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolveExit) => {
        if (child.exitCode !== null) return resolveExit(child.exitCode);
        child.once('exit', (code) => resolveExit(code));
        child.kill(signal);
      }),
  };
}
