/**
 * PostgreSQL clocks and timeouts (issue 13, part 11), on the shared PostgreSQL server.
 *
 * - A statement that outlasts its time is cancelled by the server, so its transaction rolls back:
 *   an admission batch held (here: behind a lock another connection keeps on the key's counter
 *   rows) until the client gave up on it must not commit later and leave a phantom reservation
 *   holding the key's tokens and slots until it expires.
 * - Reservations expire by the database's clock: two real gateway processes on one database, one
 *   of them with its clock 10 minutes ahead (libfaketime, preloaded into that process only). The
 *   one ahead must not sweep the other's live reservation — a stream the scripted Ollama holds open
 *   keeps it and is charged when it ends — and its own reservations expire TTL after the
 *   database's now(), not its own.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { parseDatabaseUrl } from '@llmproxy/config';
import { ApiKeysService, type ApiKeyRecord } from '@llmproxy/keys';
import { createSqlClient, openDatabase, PostgresClient, QUERY_TIMEOUT_MS } from '@llmproxy/persistence';
import { PostgresQuotaStore, QuotaService, RESERVATION_TTL_MS } from '@llmproxy/quota';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';
import { testDatabases } from '../support/databases.js';
import { CHAT, post } from '../support/dialects.js';
import { createKeyAt } from '../support/gateway.js';
import { spawnGateway, type SpawnedGateway } from '../support/spawned-gateway.js';

const postgres = (await testDatabases()).find((database) => database.name === 'postgres');

/** Debian's libfaketime (`apt-get install faketime`; scripts/test.sh installs it when it can). */
function findLibfaketime(): string | undefined {
  const roots = ['/usr/lib', '/usr/local/lib'];
  const dirs = roots.flatMap((root) => [
    join(root, 'faketime'),
    ...(existsSync(root) ? readdirSync(root).filter((name) => name.endsWith('-linux-gnu')).map((name) => join(root, name, 'faketime')) : []),
  ]);
  return dirs.map((dir) => join(dir, 'libfaketimeMT.so.1')).find((path) => existsSync(path));
}
const libfaketime = findLibfaketime();
if (postgres && !libfaketime) {
  if (process.env.REQUIRE_PG === '1') throw new Error('REQUIRE_PG=1 but libfaketime is missing (apt-get install faketime): the clock test cannot run');
  console.warn('SKIPPING the PostgreSQL clock test: libfaketime is missing (apt-get install faketime); set REQUIRE_PG=1 to fail instead');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A statement_timeout as SHOW prints it ('8s', '500ms', '1min', '0') in milliseconds. */
function showToMs(value: string): number {
  const match = /^(\d+)(ms|s|min|h)?$/.exec(value.trim());
  if (!match) throw new Error(`unexpected statement_timeout ${value}`);
  return Number(match[1]) * { ms: 1, s: 1_000, min: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'min' | 'h'];
}

(postgres ? describe : describe.skip)('a PostgreSQL statement that outlasts its time', () => {
  let databaseUrl: string;
  let dataSource: DataSource;
  let sql: PostgresClient;
  let quota: QuotaService;
  let locker: pg.Client | undefined;

  beforeAll(async () => {
    databaseUrl = await postgres!.create();
    dataSource = await openDatabase(parseDatabaseUrl(databaseUrl));
    sql = createSqlClient(dataSource) as PostgresClient;
    quota = new QuotaService(new PostgresQuotaStore(sql), 'UTC');
  });

  afterAll(async () => {
    await locker?.end().catch(() => undefined);
    await dataSource?.destroy();
    await postgres?.dropAll();
  });

  it('is cancelled by the server before the client gives up, on the data plane and on TypeORM alike', async () => {
    const dataPlane = showToMs(String((await sql.one<{ statement_timeout: string }>('SHOW statement_timeout'))!.statement_timeout));
    const typeorm = showToMs(String(((await dataSource.query('SHOW statement_timeout')) as { statement_timeout: string }[])[0]!.statement_timeout));
    for (const timeout of [dataPlane, typeorm]) {
      expect(timeout).toBeGreaterThan(0);
      expect(timeout).toBeLessThan(QUERY_TIMEOUT_MS);
    }
  });

  it('rolls back an admission held past the client timeout: no phantom reservation holds the key afterwards', async () => {
    const limits = { dailyTokens: 1_000_000, monthlyTokens: null, dailyRequests: null, monthlyRequests: null };
    const { apiKey } = await new ApiKeysService(dataSource).create({ name: 'held', limits });
    const key: ApiKeyRecord = { id: apiKey.id, name: 'held', isActive: true, expiresAt: null, allowedModels: null, maxConcurrent: null, limits };
    const admit = () => quota.admit({ key, promptEstimate: 10, requestedMaxTokens: 100, generates: true, anthropicHeaders: false });
    // One admission and its settlement create the key's counter rows.
    const first = await admit();
    if (!first.admitted) throw new Error('refused');
    await quota.settle(first.reservation, { promptTokens: 10, completionTokens: 5, exact: true, model: 'm', failed: false, bucketStart: new Date() });

    // Another connection locks the key's counter rows and keeps them past the client's timeout.
    locker = new pg.Client({ connectionString: databaseUrl });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM quota_counters WHERE api_key_id = $1 FOR UPDATE', [key.id]);
    const started = Date.now();
    const failure: Error & { code?: string } = await admit().then(
      () => new Error('admitted through a lock held for ever'),
      (error: unknown) => error as Error & { code?: string },
    );
    expect(Date.now() - started).toBeLessThan(QUERY_TIMEOUT_MS + 2_000);
    await locker.query('COMMIT');
    await locker.end();
    locker = undefined;

    // Whatever the server still ran of the admission is over once no session waits any more.
    for (let i = 0; i < 40; i++) {
      const waiting = await sql.one<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%llmproxy_admit%' AND state = 'active'");
      if (waiting!.n === 0) break;
      await sleep(50);
    }
    await sleep(200);
    const reservations = await sql.all('SELECT id FROM quota_reservations WHERE api_key_id = ?', [key.id]);
    const counters = await sql.all<{ requests: number; reserved_tokens: number }>('SELECT requests, reserved_tokens FROM quota_counters WHERE api_key_id = ?', [key.id]);
    expect({ reservations, counters }).toEqual({ reservations: [], counters: [{ requests: 1, reserved_tokens: 0 }, { requests: 1, reserved_tokens: 0 }] });
    // The server cancelled it (query_canceled), rather than the client giving up on it.
    expect({ code: failure.code, message: failure.message }).toEqual({ code: '57014', message: 'canceling statement due to statement timeout' });
  }, 30_000);
});

(postgres && libfaketime ? describe : describe.skip)('two gateway processes on one PostgreSQL, one clock 10 minutes ahead', () => {
  const AHEAD_MS = 10 * 60_000;
  let databaseUrl: string;
  let upstream: FakeOllama;
  let db: pg.Client;
  let accurate: SpawnedGateway | undefined;
  let ahead: SpawnedGateway | undefined;

  beforeAll(async () => {
    databaseUrl = await postgres!.create();
    upstream = await startFakeOllama();
    accurate = await spawnGateway({ DATABASE_URL: databaseUrl, OLLAMA_URL: upstream.url });
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    // A stream still held (a failed run) would keep a gateway's graceful stop waiting.
    upstream?.release();
    for (const gateway of [ahead, accurate]) if (gateway) expect(await gateway.stop()).toBe(0);
    await db?.end();
    await upstream?.close();
    await postgres?.dropAll();
  }, 30_000);

  /** The key's reservations, with the time each has left by the database's clock. */
  const reservations = async (keyId: number) =>
    (
      await db.query<{ id: string; left_ms: number }>(
        'SELECT id, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS left_ms FROM quota_reservations WHERE api_key_id = $1 ORDER BY created_at',
        [keyId],
      )
    ).rows;

  /** A streamed chat held open by the scripted Ollama after two chunks, until `upstream.release()`. */
  async function heldStream(gateway: SpawnedGateway, key: string): Promise<Response> {
    upstream.enqueue({ tokens: ['a', ' b', ' c', ' d', ' e'], holdAfterChunks: 2 });
    const held = upstream.heldCount;
    const response = await post(gateway.proxyUrl, '/api/chat', key, { ...CHAT, stream: true });
    expect(response.status).toBe(200);
    for (let i = 0; upstream.heldCount === held; i++) {
      if (i > 200) throw new Error('the stream was not held');
      await sleep(10);
    }
    return response;
  }

  it('leaves the other process’s live stream reserved, charges it at its end, and expires every reservation by the database’s clock', async () => {
    const { key, id } = await createKeyAt(accurate!.adminUrl, { name: 'clocks', daily_token_limit: 1_000_000 });
    const first = await heldStream(accurate!, key);
    const [live] = await reservations(id);
    expect(live!.left_ms).toBeGreaterThan(RESERVATION_TTL_MS - 30_000);
    expect(live!.left_ms).toBeLessThanOrEqual(RESERVATION_TTL_MS);

    // The second process, 10 minutes ahead (its HTTP Date header says so), sweeps expired
    // reservations as it starts (QuotaMaintenance), as every process does then and every minute.
    ahead = await spawnGateway({
      DATABASE_URL: databaseUrl,
      OLLAMA_URL: upstream.url,
      LD_PRELOAD: libfaketime!,
      FAKETIME: '+10m',
      // Timers run on the monotonic clock: only the wall clock is wrong, as on a badly synced host.
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    });
    const skew = Date.parse((await fetch(`${ahead.proxyUrl}/`)).headers.get('date')!) - Date.now();
    expect(Math.abs(skew - AHEAD_MS)).toBeLessThan(5_000);
    await sleep(2_000);
    expect((await reservations(id)).map((r) => r.id)).toEqual([live!.id]);

    // A stream through the process ahead: its reservation, too, lives TTL by the database's clock.
    const second = await heldStream(ahead, key);
    const both = await reservations(id);
    expect(both).toHaveLength(2);
    expect(both[1]!.left_ms).toBeGreaterThan(RESERVATION_TTL_MS - 30_000);
    expect(both[1]!.left_ms).toBeLessThanOrEqual(RESERVATION_TTL_MS);

    // Both end: each is charged (prompt "hello" = 1 token + 5 output tokens) and nothing stays reserved.
    upstream.release();
    for (const response of [first, second]) expect(await response.text()).toContain('"done":true');
    for (let i = 0; (await reservations(id)).length > 0; i++) {
      if (i > 200) throw new Error('the streams were not settled');
      await sleep(25);
    }
    const charged = await db.query<{ requests: number; tokens: number }>(
      'SELECT sum(requests)::int AS requests, sum(prompt_tokens + completion_tokens)::int AS tokens FROM usage_rollup WHERE api_key_id = $1',
      [id],
    );
    const days = await db.query<{ requests: number; tokens: number; reserved: number }>(
      'SELECT sum(requests)::int AS requests, sum(tokens)::int AS tokens, sum(reserved_tokens)::int AS reserved FROM quota_counters WHERE api_key_id = $1 AND length(period_key) = 10',
      [id],
    );
    expect({ charged: charged.rows[0], days: days.rows[0] }).toEqual({ charged: { requests: 2, tokens: 12 }, days: { requests: 2, tokens: 12, reserved: 0 } });
  }, 60_000);
});

if (!postgres) {
  it('skips the PostgreSQL clock and timeout tests: no PostgreSQL server', () => undefined);
}
