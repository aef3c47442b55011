import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { parseDatabaseUrl } from '@llmproxy/config';
import { ApiKeysService, type ApiKeyRecord, type QuotaLimits } from '@llmproxy/keys';
import { createSqlClient, openDatabase, type SqliteClient } from '@llmproxy/persistence';
import { QuotaService, SqliteQuotaStore, type Reservation, type Settlement } from '@llmproxy/quota';
import { eventually } from './support/gateway.js';

/**
 * SQLite's quota ledger (libs/quota/src/sqlite-quota-store.ts): decisions in memory, every change
 * written behind, in one transaction per 10 ms batch. What another connection sees of the file
 * is what a restart after `kill -9` would find, so these tests read it through their own connection.
 */
const TZ = 'Europe/Berlin';
const noLimits: QuotaLimits = { dailyTokens: null, monthlyTokens: null, dailyRequests: null, monthlyRequests: null };
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
/** Longer than a batch (10 ms): what has not been written by then is being held back. */
const longerThanABatch = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('SQLite quota ledger', () => {
  let file: string;
  let dataSource: DataSource;
  let sql: SqliteClient;
  let store: SqliteQuotaStore;
  let quota: QuotaService;
  let keys: ApiKeysService;
  let reader: Database.Database;

  beforeAll(async () => {
    file = join(mkdtempSync(join(tmpdir(), 'llmproxy-ledger-')), 'llmproxy.db');
    dataSource = await openDatabase(parseDatabaseUrl(`sqlite:///${file}`));
    sql = createSqlClient(dataSource) as SqliteClient;
    store = new SqliteQuotaStore(sql);
    quota = new QuotaService(store, TZ);
    keys = new ApiKeysService(dataSource);
    reader = new Database(file, { readonly: true });
  });

  afterAll(async () => {
    reader?.close();
    await dataSource?.destroy();
  });

  let made = 0;
  async function newKey(limits: Partial<QuotaLimits>): Promise<ApiKeyRecord> {
    const name = `ledger-${++made}`;
    const { apiKey } = await keys.create({ name, limits });
    return { id: apiKey.id, name, isActive: true, expiresAt: null, allowedModels: null, maxConcurrent: null, limits: { ...noLimits, ...limits } };
  }

  const admit = (key: ApiKeyRecord) => quota.admit({ key, promptEstimate: 10, requestedMaxTokens: 100, generates: true, anthropicHeaders: false });
  const settlement = (): Settlement => ({ promptTokens: 10, completionTokens: 5, exact: true, model: 'llama3.2', failed: false, bucketStart: new Date('2026-11-26T10:00:00Z') });

  /** The file as another process would find it. */
  function onDisk(keyId: number) {
    const counters = reader.prepare('SELECT period_key, requests, tokens, reserved_tokens FROM quota_counters WHERE api_key_id = ? ORDER BY period_key').all(keyId) as {
      requests: number;
      tokens: number;
      reserved_tokens: number;
    }[];
    const reservations = (reader.prepare('SELECT count(*) AS n FROM quota_reservations WHERE api_key_id = ?').get(keyId) as { n: number }).n;
    const rollup = reader.prepare('SELECT requests, prompt_tokens, completion_tokens FROM usage_rollup WHERE api_key_id = ?').all(keyId);
    return { counters, reservations, rollup };
  }

  async function admitted(key: ApiKeyRecord): Promise<Reservation> {
    const result = await admit(key);
    if (!result.admitted) throw new Error(`refused: ${result.message}`);
    return result.reservation;
  }

  it('writes a batch of admissions together, behind the decisions, and a settlement before it resolves', async () => {
    const key = await newKey({ dailyRequests: 1000, dailyTokens: 1_000_000 });
    const reservations = await Promise.all(Array.from({ length: 20 }, () => admitted(key)));
    // Decided in memory: nothing of them is in the file yet; then all of them at once.
    expect(onDisk(key.id)).toMatchObject({ reservations: 0 });
    await eventually(() => expect(onDisk(key.id).reservations).toBe(20));
    const written = onDisk(key.id);
    for (const window of written.counters) expect(window).toMatchObject({ requests: 20, tokens: 0, reserved_tokens: 20 * 110 });

    await Promise.all(reservations.map((r) => quota.settle(r, settlement())));
    // Resolved means written: no waiting here.
    const settled = onDisk(key.id);
    expect(settled.reservations).toBe(0);
    for (const window of settled.counters) expect(window).toMatchObject({ requests: 20, tokens: 20 * 15, reserved_tokens: 0 });
    // Twenty settlements of one key, model and hour: one rollup row holding all of them.
    expect(settled.rollup).toEqual([{ requests: 20, prompt_tokens: 200, completion_tokens: 100 }]);
  });

  it('a request admitted and settled within one batch never writes its reservation, but counts', async () => {
    const key = await newKey({ dailyRequests: 10 });
    const reservation = await admitted(key);
    await quota.settle(reservation, settlement());
    const disk = onDisk(key.id);
    expect(disk.reservations).toBe(0);
    for (const window of disk.counters) expect(window).toMatchObject({ requests: 1, tokens: 15, reserved_tokens: 0 });
  });

  it('refuses admissions while the database cannot be written, keeps every change, and recovers', async () => {
    const key = await newKey({ dailyRequests: 100 });
    const before = await admitted(key);
    await eventually(() => expect(onDisk(key.id).reservations).toBe(1));
    sql.db.pragma('query_only = ON'); // every write now fails, as on a full or read-only disk
    try {
      const during = await admitted(key); // decided in memory; its write fails
      const settling = quota.settle(before, settlement());
      let resolved = false;
      void settling.then(() => (resolved = true));
      await eventually(() => expect(store.writeFailure).toBeDefined());
      // Fails closed: the interceptor answers 503. (The message, not toThrow: better-sqlite3's
      // SqliteError comes from the realm of the first test file that loaded it in this worker.)
      const refusal = await admit(key).then(
        () => 'admitted',
        (error: unknown) => String((error as Error).message),
      );
      expect(refusal).toMatch(/readonly/);
      expect(resolved).toBe(false); // not written, so not resolved
      sql.db.pragma('query_only = OFF');
      await expect(settling).resolves.toBe(true); // the retry (1 s) writes what was kept
      expect(store.writeFailure).toBeUndefined();
      await quota.settle(during, settlement());
    } finally {
      sql.db.pragma('query_only = OFF');
      if (store.writeFailure !== undefined) store.flushNow(); // leave the store healthy for the next test
    }
    for (const window of onDisk(key.id).counters) expect(window).toMatchObject({ requests: 2, tokens: 30, reserved_tokens: 0 });
    expect((await admit(key)).admitted).toBe(true);
  });

  it('does not write into an admin transaction left open across turns, so its rollback cannot take quota changes with it', async () => {
    const key = await newKey({ dailyRequests: 100 });
    const other = await newKey({});
    await quota.settle(await admitted(key), settlement()); // the ledger knows the key now
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    await runner.query('UPDATE api_keys SET name = ? WHERE id = ?', ['renamed', other.id]);
    const reservation = await admitted(key); // decided in memory while the transaction is open
    await longerThanABatch();
    expect(onDisk(key.id).reservations).toBe(0); // held back: it would have joined the admin's transaction
    await runner.rollbackTransaction();
    await runner.release();
    await quota.settle(reservation, settlement());
    for (const window of onDisk(key.id).counters) expect(window).toMatchObject({ requests: 2, tokens: 30, reserved_tokens: 0 });
    expect((reader.prepare('SELECT name FROM api_keys WHERE id = ?').get(other.id) as { name: string }).name).toBe(other.name);
  });

  it('a key first seen while an admin transaction is open waits for it instead of reading inside it', async () => {
    const key = await newKey({ dailyRequests: 100 });
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    let done = false;
    const admission = admitted(key).then((r) => ((done = true), r));
    await nextTurn();
    await nextTurn();
    expect(done).toBe(false);
    await runner.rollbackTransaction();
    await runner.release();
    await quota.settle(await admission, settlement());
    for (const window of onDisk(key.id).counters) expect(window).toMatchObject({ requests: 1, tokens: 15 });
  });
});
