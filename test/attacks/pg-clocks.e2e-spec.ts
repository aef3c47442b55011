/**
 * PostgreSQL timeouts (issue 13, part 11), on the shared PostgreSQL server: a statement that
 * outlasts its time is cancelled by the server, so its transaction rolls back. An admission batch
 * held (here: behind a lock another connection keeps on the key's counter rows) until the client
 * gave up on it must not commit later and leave a phantom reservation holding the key's tokens and
 * slots until it expires.
 */
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { parseDatabaseUrl } from '@llmproxy/config';
import { ApiKeysService, type ApiKeyRecord } from '@llmproxy/keys';
import { createSqlClient, openDatabase, PostgresClient, QUERY_TIMEOUT_MS } from '@llmproxy/persistence';
import { PostgresQuotaStore, QuotaService } from '@llmproxy/quota';
import { testDatabases } from '../support/databases.js';

const postgres = (await testDatabases()).find((database) => database.name === 'postgres');

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

if (!postgres) {
  it('skips the PostgreSQL timeout tests: no PostgreSQL server', () => undefined);
}
