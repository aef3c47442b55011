import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { loadConfig } from '@llmproxy/config';
import { startGateway, type RunningGateway } from '../../apps/gateway/src/bootstrap.js';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';

export const ADMIN_PASSWORD = 'test-admin-password-0123';

export interface TestGateway extends RunningGateway {
  logFile: string;
  /** Lines the operational logger wrote (to check nothing secret is logged). */
  appLog: string[];
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Creates a key through the admin API and returns its plaintext and id. */
  createKey(body?: Record<string, unknown>): Promise<{ key: string; id: number }>;
  usageLines(): Record<string, unknown>[];
}

/** The real gateway, both listeners on free ports of 127.0.0.1, against `databaseUrl` and `ollamaUrl`. */
/** A scripted Ollama and a gateway in front of it on `databaseUrl`: most suites' beforeAll. */
export async function startWithFakeOllama(databaseUrl: string, env: Record<string, string> = {}): Promise<{ upstream: FakeOllama; gateway: TestGateway }> {
  const upstream = await startFakeOllama();
  return { upstream, gateway: await startTestGateway(databaseUrl, upstream.url, env) };
}

/** Closes what `startWithFakeOllama` started, gateway first (either is missing if the start failed). */
export async function closeWithFakeOllama({ gateway, upstream }: { gateway?: TestGateway; upstream?: FakeOllama }): Promise<void> {
  await gateway?.close();
  await upstream?.close();
}

export async function startTestGateway(databaseUrl: string, ollamaUrl: string, env: Record<string, string> = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'llmproxy-gw-'));
  const logFile = join(dir, 'logs', 'usage.log');
  const config = loadConfig(
    {
      ADMIN_PASSWORD,
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: '0',
      ADMIN_HOST: '127.0.0.1',
      ADMIN_PORT: '0',
      DATABASE_URL: databaseUrl,
      OLLAMA_URL: ollamaUrl,
      LOG_FILE: logFile,
      // Tests close gateways with requests still held by the scripted upstream: do not wait 30 s.
      SHUTDOWN_GRACE_S: '2',
      // Tests hold many streams at once on one scripted Ollama: no gateway queue unless a test asks for one.
      UPSTREAM_MAX_PARALLEL: '1024',
      ...env,
    },
    dir,
  );
  const appLog: string[] = [];
  const logger = winston.createLogger({
    level: 'debug',
    transports: [new winston.transports.Console({ silent: true })],
  });
  logger.on('data', (info: winston.Logform.TransformableInfo) => appLog.push(JSON.stringify(info)));
  const gateway = await startGateway(config, logger);
  return {
    ...gateway,
    logFile,
    appLog,
    admin: (path, init) => adminFetch(gateway.adminUrl, path, init),
    createKey: (body) => createKeyAt(gateway.adminUrl, body),
    usageLines() {
      try {
        return readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      } catch {
        return [];
      }
    },
  };
}

/** A request to the admin listener at `adminUrl` with the admin password. */
export function adminFetch(adminUrl: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${adminUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_PASSWORD}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
}

/** Keys made without a name get test-1, test-2, …: key names must differ. */
let keysCreated = 0;

/** Creates a key through the admin API at `adminUrl` (any gateway, in process or spawned). */
export async function createKeyAt(adminUrl: string, body: Record<string, unknown> = {}): Promise<{ key: string; id: number }> {
  const response = await adminFetch(adminUrl, '/api/api-keys', { method: 'POST', body: JSON.stringify({ name: `test-${++keysCreated}`, ...body }) });
  if (response.status !== 201) throw new Error(`creating a key answered ${response.status}: ${await response.text()}`);
  const created = (await response.json()) as { key: string; id: number };
  return { key: created.key, id: created.id };
}

/** Waits until `check` holds (usage records are written asynchronously). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
