/**
 * Issue 13, item 13: what the cheap endpoints cost the database. `/readyz` answers anyone without
 * credentials and `GET /v1/usage` any key holder, as often as they like: neither may turn a flood
 * into database work, and `/readyz` must not say "ready" while the SQLite ledger cannot write
 * (admissions are refused then: a load balancer should route elsewhere).
 */
import { jest } from '@jest/globals';
import Database from 'better-sqlite3';
import type { KeyUsage } from '@llmproxy/api-types';
import type { QueryRunner } from 'typeorm';
import { testDatabases } from '../support/databases.js';
import { closeWithFakeOllama, eventually, startWithFakeOllama, type TestGateway } from '../support/gateway.js';
import type { FakeOllama } from '../upstream/fake-ollama.js';
import type { SqliteClient } from '@llmproxy/persistence';

const [sqlite] = await testDatabases();

const chat = (proxyUrl: string, key: string, stream = false) =>
  fetch(`${proxyUrl}/api/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hello there' }], stream }),
  });

describe('/readyz under a flood of probes', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await sqlite!.create()));
  });
  afterAll(() => closeWithFakeOllama({ gateway, upstream }));

  it('makes at most one database query and one Ollama call per second, whatever the number of probes on both listeners', async () => {
    const selectOne = jest.spyOn(gateway.shared.sql, 'one');
    upstream.reset();
    const started = Date.now();
    const statuses: number[] = [];
    for (let round = 0; round < 4; round++) {
      const probes = Array.from({ length: 50 }, (_, i) => fetch(`${i % 2 === 0 ? gateway.proxyUrl : gateway.adminUrl}/readyz`).then((r) => r.status));
      statuses.push(...(await Promise.all(probes)));
    }
    const seconds = Math.floor((Date.now() - started) / 1000) + 1;
    selectOne.mockRestore();
    expect(statuses).toEqual(Array(200).fill(200));
    const versionCalls = upstream.requests.filter((r) => r.path === '/api/version').length;
    const databaseQueries = selectOne.mock.calls.filter(([sql]) => /SELECT 1/i.test(String(sql))).length;
    expect(versionCalls).toBeGreaterThanOrEqual(1);
    expect(versionCalls).toBeLessThanOrEqual(seconds);
    expect(databaseQueries).toBeLessThanOrEqual(seconds);
  });
});

describe('/readyz on SQLite while the quota ledger cannot write', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await sqlite!.create()));
  });
  afterAll(() => closeWithFakeOllama({ gateway, upstream }));

  it('answers 503 on both listeners (admissions are refused meanwhile) and 200 again once it writes', async () => {
    const { key } = await gateway.createKey({ name: 'ready', daily_request_limit: 100 });
    expect((await chat(gateway.proxyUrl, key)).status).toBe(200);
    expect((await fetch(`${gateway.proxyUrl}/readyz`)).status).toBe(200);
    const db = (gateway.shared.sql as SqliteClient).db;
    db.pragma('query_only = ON'); // every write now fails, as on a full or read-only disk
    try {
      await (await chat(gateway.proxyUrl, key)).text(); // a change to write; its batch fails
      for (const url of [gateway.proxyUrl, gateway.adminUrl]) {
        await eventually(async () => {
          const response = await fetch(`${url}/readyz`);
          expect([response.status, await response.json()]).toEqual([503, { status: 'unavailable', checks: { database: false, ollama: true } }]);
        }, 5_000);
      }
      expect((await chat(gateway.proxyUrl, key)).status).toBe(503);
    } finally {
      db.pragma('query_only = OFF');
    }
    await eventually(async () => expect((await fetch(`${gateway.proxyUrl}/readyz`)).status).toBe(200), 5_000);
    expect((await chat(gateway.proxyUrl, key)).status).toBe(200);
  });
});

describe('GET /v1/usage on SQLite answers from the quota ledger', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let reader: Database.Database;
  /** Changes whenever another connection commits to the file (SQLite's PRAGMA data_version). */
  const commits = () => reader.pragma('data_version', { simple: true }) as number;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await sqlite!.create()));
    reader = new Database(gateway.shared.config.database.type === 'sqlite' ? gateway.shared.config.database.path : '', { readonly: true });
  });
  afterAll(async () => {
    reader?.close();
    await closeWithFakeOllama({ gateway, upstream });
  });

  const usage = async (key: string) => {
    const response = await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(2_000) });
    expect(response.status).toBe(200);
    return (await response.json()) as KeyUsage;
  };

  it('a read forces no write: the admission not yet written counts, and nothing is committed for it', async () => {
    const { key, id } = await gateway.createKey({ name: 'reader', daily_request_limit: 100, daily_token_limit: 100_000 });
    expect((await chat(gateway.proxyUrl, key)).status).toBe(200); // the ledger knows the key now
    const key2 = { id, name: 'reader', isActive: true, expiresAt: null, allowedModels: null, maxConcurrent: null, limits: { dailyTokens: 100_000, monthlyTokens: null, dailyRequests: 100, monthlyRequests: null } };
    const quota = gateway.shared.quota;
    const before = commits();
    // Admitted in memory; its batch is written 10 ms later, not by the read below.
    const admitted = await quota.admit({ key: key2, promptEstimate: 10, requestedMaxTokens: 100, generates: true, anthropicHeaders: false });
    expect(admitted.admitted).toBe(true);
    const seen = await quota.usageOf(id, key2.limits);
    expect(commits()).toBe(before);
    expect(seen.day).toMatchObject({ requests: 2, reserved_tokens: 110 });
    if (admitted.admitted) {
      await quota.settle(admitted.reservation, { promptTokens: 1, completionTokens: 1, exact: true, model: 'llama3.2', failed: false, bucketStart: new Date() });
    }
  });

  it('a flood of reads while the ledger holds its writes back: every one answers at once, none commits', async () => {
    const { key } = await gateway.createKey({ name: 'flood', daily_request_limit: 100, daily_token_limit: 100_000 });
    expect((await chat(gateway.proxyUrl, key)).status).toBe(200);
    // An admin transaction open on the shared connection holds the ledger's batches back (they
    // would join it), so nothing else commits during the flood either.
    const runner: QueryRunner = gateway.shared.dataSource.createQueryRunner();
    await runner.startTransaction();
    let stream: Response | undefined;
    try {
      upstream.enqueue({ tokens: [' a', ' b', ' c'], holdAfterChunks: 1 });
      const before = commits();
      stream = await chat(gateway.proxyUrl, key, true);
      expect(stream.status).toBe(200);
      await upstream.waitForHold();
      const seen = await Promise.all(Array.from({ length: 50 }, () => usage(key)));
      for (const answer of seen) expect(answer.day).toMatchObject({ requests: 2, request_limit: 100 });
      expect(seen[0]!.day.reserved_tokens).toBeGreaterThan(0);
      expect(commits()).toBe(before);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
      upstream.release();
      await stream?.text();
    }
    await eventually(async () => expect((await usage(key)).day).toMatchObject({ requests: 2, reserved_tokens: 0 }));
  });
});
