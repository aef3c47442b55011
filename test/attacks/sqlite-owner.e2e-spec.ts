/**
 * Issue 13, item 6: exactly one process serves a SQLite file. The quota ledger of a SQLite gateway
 * lives in its memory (libs/quota/src/sqlite-quota-store.ts); a second process on the same file
 * would decide from its own copy and admit up to N× every limit. Real processes from the build
 * (`npm run build` first), as an operator's second `npm start` or a restarted container would be.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { KeyUsage } from '@llmproxy/api-types';
import { testDatabases } from '../support/databases.js';
import { createKeyAt, eventually } from '../support/gateway.js';
import { spawnGateway, type SpawnedGateway } from '../support/spawned-gateway.js';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';

const [sqlite] = await testDatabases();
const CLI_JS = resolve(process.cwd(), 'dist/apps/gateway/src/cli.js');

const children: SpawnedGateway[] = [];
const dirs: string[] = [];
let upstream: FakeOllama;

beforeAll(async () => {
  upstream = await startFakeOllama();
});
afterAll(async () => {
  for (const gateway of children) if (gateway.child.exitCode === null && gateway.child.signalCode === null) gateway.child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await upstream?.close();
});

async function newDatabase(): Promise<{ url: string; path: string }> {
  const url = await sqlite!.create();
  const path = url.slice('sqlite:///'.length);
  dirs.push(resolve(path, '..'));
  return { url, path };
}

async function gatewayOn(url: string, env: Record<string, string> = {}, onOutput?: (output: string) => void): Promise<SpawnedGateway> {
  const gateway = await spawnGateway({ DATABASE_URL: url, OLLAMA_URL: upstream.url, ...env }, onOutput);
  children.push(gateway);
  return gateway;
}

/** A start that must fail: the process's output (spawnGateway throws with it when the process exits). */
async function refusedStart(url: string, env: Record<string, string> = {}): Promise<string> {
  const error = await gatewayOn(url, env).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!error) throw new Error('the second process started');
  expect(error.message).toMatch(/^gateway exited with 1: /);
  return error.message.slice('gateway exited with 1: '.length);
}

const chat = (proxyUrl: string, key: string, stream = false) =>
  fetch(`${proxyUrl}/api/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hello there' }], stream }),
  });

const usageOf = async (proxyUrl: string, key: string) =>
  (await (await fetch(`${proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()) as KeyUsage;

function ownerRow(path: string): Record<string, unknown> | undefined {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT * FROM llmproxy_owner').get() as Record<string, unknown> | undefined;
  } finally {
    db.close();
  }
}

function reservationsIn(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM quota_reservations').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Writes the lease as another process would hold it (another host: its pid cannot be checked from here). */
function writeOwner(path: string, owner: { host: string; pid: number; heartbeatAgoMs: number }): void {
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 5000');
    const at = (ms: number) => new Date(ms).toISOString();
    db.prepare('DELETE FROM llmproxy_owner').run();
    db.prepare('INSERT INTO llmproxy_owner (id, owner_id, pid, host, scope, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?, ?)').run(
      'someone-else',
      owner.pid,
      owner.host,
      `${owner.host} elsewhere`,
      at(Date.now() - 3_600_000),
      at(Date.now() - owner.heartbeatAgoMs),
    );
  } finally {
    db.close();
  }
}

function cli(args: string[], databaseUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'llmproxy-cli-'));
  dirs.push(cwd);
  const child = spawn(process.execPath, [CLI_JS, ...args], { cwd, env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolveExit) => child.once('exit', (code) => resolveExit({ code, stdout, stderr })));
}

describe('one gateway process per SQLite file', () => {
  it('a second process refuses to start, with one line naming the owner (pid, host, since); the first serves on', async () => {
    const { url } = await newDatabase();
    const first = await gatewayOn(url);
    const output = await refusedStart(url, { SQLITE_OWNER_WAIT_S: '0' });
    const line = output.split('\n').find((l) => l.startsWith('llmproxy: could not start:'));
    expect(line).toMatch(new RegExp(`is served by pid ${first.child.pid} on host ${hostname()} since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d`));
    expect(line).toMatch(/one process per SQLite file/);
    expect((await fetch(`${first.proxyUrl}/readyz`)).status).toBe(200);
    expect(await first.stop()).toBe(0);
    expect(ownerRow(url.slice('sqlite:///'.length))).toBeUndefined(); // released at shutdown
  }, 60_000);

  it('a second process waits up to SQLITE_OWNER_WAIT_S for the owner and starts once it has stopped', async () => {
    const { url } = await newDatabase();
    const first = await gatewayOn(url);
    const waitingLine = new RegExp(`served by pid ${first.child.pid} on host ${hostname()} since .*; waiting up to 40 s`);
    let saysItWaits!: () => void;
    const waiting = new Promise<void>((resolveWaiting) => (saysItWaits = resolveWaiting));
    const second = gatewayOn(url, { SQLITE_OWNER_WAIT_S: '40' }, (output) => waitingLine.test(output) && saysItWaits());
    let secondReady = false;
    void second.then(() => (secondReady = true), () => undefined);
    // Once it says it waits (a loaded machine takes seconds to get there), and a while after, it still waits.
    await waiting;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(secondReady).toBe(false);
    expect(await first.stop()).toBe(0);
    const started = await second;
    expect(started.output()).toMatch(waitingLine);
    expect((await fetch(`${started.proxyUrl}/readyz`)).status).toBe(200);
    expect(await started.stop()).toBe(0);
  }, 60_000);

  it('after kill -9 the successor takes over at once and releases the dead owner’s reservations uncharged (a full max_concurrent key is admitted)', async () => {
    const { url, path } = await newDatabase();
    const first = await gatewayOn(url);
    const { key } = await createKeyAt(first.adminUrl, { name: 'one-at-a-time', max_concurrent: 1, daily_token_limit: 100_000 });
    upstream.enqueue({ tokens: [' a', ' b', ' c'], holdAfterChunks: 1 });
    const held = await chat(first.proxyUrl, key, true);
    expect(held.status).toBe(200);
    await upstream.waitForHold();
    const refused = await chat(first.proxyUrl, key);
    expect(refused.status).toBe(429);
    await eventually(() => expect(reservationsIn(path)).toBe(1));
    first.child.kill('SIGKILL');
    await eventually(() => expect(first.child.signalCode).toBe('SIGKILL'));
    upstream.release();
    await held.text().catch(() => '');

    const startedAt = Date.now();
    const second = await gatewayOn(url, { SQLITE_OWNER_WAIT_S: '0' }); // same host, its pid is gone: no wait
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    expect(second.output()).toMatch(new RegExp(`took over .* from pid ${first.child.pid} on host ${hostname()}.*released 1 reservation`));
    const admitted = await chat(second.proxyUrl, key);
    expect(admitted.status).toBe(200);
    await admitted.text();
    const usage = await usageOf(second.proxyUrl, key);
    // The dead request counts as a request, its tokens were released (never settled: nothing charged).
    expect(usage.day).toMatchObject({ requests: 2, reserved_tokens: 0 });
    expect(await second.stop()).toBe(0);
  }, 60_000);

  it('an owner on another host: refused while its heartbeat is fresh, taken over once it has expired', async () => {
    const { url, path } = await newDatabase();
    const first = await gatewayOn(url);
    expect(await first.stop()).toBe(0);
    writeOwner(path, { host: 'elsewhere', pid: 4242, heartbeatAgoMs: 1_000 });
    const output = await refusedStart(url, { SQLITE_OWNER_WAIT_S: '0' });
    expect(output).toMatch(/is served by pid 4242 on host elsewhere since /);

    writeOwner(path, { host: 'elsewhere', pid: 4242, heartbeatAgoMs: 10 * 60_000 });
    const second = await gatewayOn(url, { SQLITE_OWNER_WAIT_S: '0' });
    expect(second.output()).toMatch(/took over .* from pid 4242 on host elsewhere/);
    expect(ownerRow(path)).toMatchObject({ pid: second.child.pid, host: hostname() });
    expect(await second.stop()).toBe(0);
  }, 60_000);

  it('a process that lost its lease fails closed: inference 503, /readyz 503; it does not release the new owner’s lease', async () => {
    const { url, path } = await newDatabase();
    const first = await gatewayOn(url);
    const { key } = await createKeyAt(first.adminUrl, { name: 'lease', daily_request_limit: 100 });
    expect((await chat(first.proxyUrl, key)).status).toBe(200);
    writeOwner(path, { host: 'elsewhere', pid: 4242, heartbeatAgoMs: 0 }); // as a successor would after an expiry
    await eventually(async () => expect((await fetch(`${first.proxyUrl}/readyz`)).status).toBe(503), 10_000);
    const refused = await chat(first.proxyUrl, key);
    expect(refused.status).toBe(503);
    await first.stop();
    expect(ownerRow(path)).toMatchObject({ owner_id: 'someone-else', host: 'elsewhere' });
  }, 60_000);

  it('the key CLI works beside a running gateway, and the gateway sees its changes', async () => {
    const { url } = await newDatabase();
    const first = await gatewayOn(url);
    const created = await cli(['keys', 'create', '--name', 'beside', '--json'], url);
    expect(created.code).toBe(0);
    const { key, id } = JSON.parse(created.stdout) as { key: string; id: number };
    expect((await chat(first.proxyUrl, key)).status).toBe(200);
    const listed = await cli(['keys', 'list'], url);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/beside/);
    expect(await cli(['keys', 'deactivate', String(id)], url)).toMatchObject({ code: 0, stderr: '' });
    await eventually(async () => expect((await chat(first.proxyUrl, key)).status).toBe(401));
    expect(await first.stop()).toBe(0);
  }, 60_000);
});
