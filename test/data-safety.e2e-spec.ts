/**
 * Data safety (issue 9): the built gateway killed with SIGKILL while 50 streams are in flight and
 * another key's requests keep the database busy, then started again on the same database. Nothing
 * the dead process wrote may be corrupt, its reservations must not lock the key out for good, and
 * its usage log may lose no more than what it was writing at the instant it died.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RESERVATION_TTL_MS } from '@llmproxy/quota';
import { startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { chatRequest, post, STREAM_END, type DialectName } from './support/dialects.js';
import { createKeyAt, eventually } from './support/gateway.js';
import { expectConsistent, inspectDatabase, windowTotals, type InspectedDatabase } from './support/quota-state.js';
import { spawnGateway, type SpawnedGateway } from './support/spawned-gateway.js';
import { readUsageLog, usageOfKey } from './support/usage-log.js';

const databases = await testDatabases();
const DIALECT_NAMES: DialectName[] = ['native', 'openai', 'anthropic'];
const STREAMS = 50;
/** Workers of the other key, sending request after request until the kill. */
const BUSY_WORKERS = 4;
/**
 * What a busy worker can have open at the kill: a request in flight and the settlement of its last
 * one (the log line and the database write of a settlement are not one atomic step).
 */
const OPEN_AT_KILL = 2 * BUSY_WORKERS;

const dirs: string[] = [];
const children: SpawnedGateway[] = [];
afterAll(async () => {
  for (const gateway of children) if (gateway.child.exitCode === null && gateway.child.signalCode === null) gateway.child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Reads a response body to its end or until the connection breaks; what arrived. */
async function readRest(reader: ReadableStreamDefaultReader<Uint8Array>, text: string): Promise<string> {
  const decoder = new TextDecoder();
  try {
    for (let part = await reader.read(); !part.done; part = await reader.read()) text += decoder.decode(part.value, { stream: true });
  } catch {
    // the connection died with the gateway
  }
  return text;
}

describe.each(databases)('kill -9 during 50 concurrent streams on $name', (database) => {
  let upstream: FakeOllama;
  let inspector: InspectedDatabase | undefined;

  beforeAll(async () => {
    // Requests not scripted otherwise (the busy key's) take a few milliseconds per chunk.
    upstream = await startFakeOllama({ defaultReply: { chunkDelayMs: 3 } });
  });
  afterAll(async () => {
    await inspector?.close();
    await upstream?.close();
    await database.dropAll();
  });

  it('restarts on a sound database; the dead reservations are released uncharged (SQLite: by the new owner at takeover; PostgreSQL: when they expire) and free the key; the usage log matches what was settled', async () => {
    const databaseUrl = await database.create();
    const logDir = mkdtempSync(join(tmpdir(), 'llmproxy-kill-'));
    dirs.push(logDir);
    const logFile = join(logDir, 'usage.log');
    const env = { DATABASE_URL: databaseUrl, OLLAMA_URL: upstream.url, LOG_FILE: logFile };
    const first = await spawnGateway(env);
    children.push(first);
    // max_concurrent = the number of streams: while the dead process's reservations stand, the key is full.
    const streamsKey = await createKeyAt(first.adminUrl, {
      name: 'streams',
      max_concurrent: STREAMS,
      daily_token_limit: 10_000_000,
      monthly_token_limit: 100_000_000,
      daily_request_limit: 10_000,
    });
    const busyKey = await createKeyAt(first.adminUrl, { name: 'busy', daily_token_limit: 10_000_000 });

    // Settled before the kill: two requests per dialect, streaming and not, all logged.
    for (const dialect of DIALECT_NAMES) {
      for (const stream of [false, true]) {
        const { path, body } = chatRequest(dialect, stream);
        const response = await post(first.proxyUrl, path, streamsKey.key, body);
        expect([dialect, stream, response.status]).toEqual([dialect, stream, 200]);
        expect(await response.text()).toContain(stream ? STREAM_END[dialect] : 'Hello there!');
      }
    }
    await eventually(() => expect(usageOfKey(readUsageLog(logFile).lines, streamsKey.id).requests).toBe(6));

    // 50 streams, a third per dialect, each held by the upstream after its first chunks.
    const tokens = Array.from({ length: 40 }, (_, i) => ` w${i}`);
    upstream.enqueue(...Array.from({ length: STREAMS }, () => ({ tokens, holdAfterChunks: 2 })));
    const streams = await Promise.all(
      Array.from({ length: STREAMS }, async (_, i) => {
        const dialect = DIALECT_NAMES[i % 3]!;
        const { path, body } = chatRequest(dialect, true, `tell story number ${i}`);
        const response = await post(first.proxyUrl, path, streamsKey.key, body);
        expect(response.status).toBe(200);
        const reader = response.body!.getReader();
        const firstBytes = new TextDecoder().decode((await reader.read()).value);
        return { dialect, reader, firstBytes };
      }),
    );
    await eventually(() => expect(upstream.heldCount).toBe(STREAMS), 10_000);

    // The other key keeps the database busy: admissions and settlements right up to the kill.
    let busyDone = 0;
    let killed = false;
    const busyErrors: string[] = [];
    const busy = Array.from({ length: BUSY_WORKERS }, async (_, worker) => {
      for (let i = 0; !killed; i++) {
        const dialect = DIALECT_NAMES[(worker + i) % 3]!;
        const { path, body } = chatRequest(dialect, i % 2 === 0);
        try {
          const response = await post(first.proxyUrl, path, busyKey.key, body);
          const text = await response.text();
          if (response.status !== 200) busyErrors.push(`${response.status} ${text}`);
          else busyDone++;
        } catch {
          return; // the gateway is gone
        }
      }
    });
    await eventually(() => expect(busyDone).toBeGreaterThanOrEqual(100), 20_000);
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    await eventually(() => expect(first.child.signalCode).toBe('SIGKILL'));
    killed = true;
    await Promise.all(busy);
    expect(busyErrors).toEqual([]);

    // No stream got its end: each was cut where it stood.
    const texts = await Promise.all(streams.map(async ({ dialect, reader, firstBytes }) => ({ dialect, text: await readRest(reader, firstBytes) })));
    for (const { dialect, text } of texts) {
      expect(text.length).toBeGreaterThan(0);
      expect(text).not.toContain(STREAM_END[dialect]);
    }

    // The usage log: every complete line parses (readUsageLog throws otherwise); at most one line cut short.
    const log = readUsageLog(logFile);
    expect(log.cut.length).toBeLessThanOrEqual(1);
    const streamsLogged = usageOfKey(log.lines, streamsKey.id);
    const busyLogged = usageOfKey(log.lines, busyKey.id);
    expect(streamsLogged.requests).toBe(6);

    // The database opens the way the gateway opens it, intact; the counters hold together.
    inspector = await inspectDatabase(databaseUrl);
    if (database.name === 'sqlite') {
      expect(inspector.pragma('integrity_check')).toBe('ok');
      expect(inspector.pragma('journal_mode')).toBe('wal');
      expect(inspector.pragma('busy_timeout')).toBeGreaterThanOrEqual(1_000);
    }
    const afterKill = await inspector.state();
    expectConsistent(afterKill);
    const dead = afterKill.reservations;
    const deadOfStreams = dead.filter((r) => r.keyId === streamsKey.id);
    expect(deadOfStreams).toHaveLength(STREAMS);
    expect(dead.length - STREAMS).toBeLessThanOrEqual(OPEN_AT_KILL);
    // Each dead reservation expires within the TTL of the kill: nobody renews it any more.
    for (const reservation of dead) expect(reservation.expiresAt.getTime()).toBeLessThanOrEqual(killedAt + RESERVATION_TTL_MS);
    // What was settled is what the log says, exactly for the quiet key; the busy key's log lost at
    // most the requests it was settling at the instant of the kill.
    expect(afterKill.rollup.get(streamsKey.id)).toEqual(streamsLogged);
    expect(windowTotals(afterKill, streamsKey.id, 'day')).toMatchObject({ requests: 6 + STREAMS, tokens: streamsLogged.tokens });
    const busySettled = afterKill.rollup.get(busyKey.id)!;
    expect(busySettled.requests).toBeGreaterThanOrEqual(100 - OPEN_AT_KILL);
    expect(Math.abs(busySettled.requests - busyLogged.requests)).toBeLessThanOrEqual(OPEN_AT_KILL);

    // Started again on the same database and log.
    const second = await spawnGateway(env);
    children.push(second);
    expect((await fetch(`${second.proxyUrl}/readyz`)).status).toBe(200);
    const released = new Map<number, number>();
    for (const reservation of dead) released.set(reservation.keyId, (released.get(reservation.keyId) ?? 0) + 1);
    if (database.name === 'sqlite') {
      // The file's new owner (same host, the dead pid gone: at once) released what the dead one
      // left unsettled before serving, charging nothing: the key's 50 slots are free.
      expect(second.output()).toMatch(new RegExp(`took over .* from pid ${first.child.pid} .*released ${dead.length} reservation`));
      expect(await second.stop()).toBe(0);
      const afterTakeover = await inspector.state();
      expect(afterTakeover.reservations).toEqual([]);
      expectConsistent(afterTakeover, released);
      for (const keyId of [streamsKey.id, busyKey.id]) {
        expect(windowTotals(afterTakeover, keyId, 'day')).toEqual({ ...windowTotals(afterKill, keyId, 'day'), reservedTokens: 0 });
      }
    } else {
      // The dead streams still hold the key's 50 slots: refused, but only until they expire.
      const full = await post(second.proxyUrl, '/api/chat', streamsKey.key, chatRequest('native', false).body);
      expect(full.status).toBe(429);
      expect(full.headers.get('retry-after')).toBe('1');
      await full.text();
      expect(await second.stop()).toBe(0);

      // The sweep (each process runs it at start and every minute) with no gateway on the database, as
      // a process starting then would: it leaves them until they expire...
      expect(await inspector.store.releaseExpired(new Date())).toBe(0);
      expect((await inspector.state()).reservations).toHaveLength(dead.length);
      // ...and releases every one of them once they have, charging nothing. (PostgreSQL dates them by
      // its own clock, not the `now` given: they are moved one TTL into the past instead.)
      await inspector.sql.run("UPDATE quota_reservations SET expires_at = expires_at - ? * interval '1 millisecond'", [RESERVATION_TTL_MS]);
      expect(await inspector.store.releaseExpired(new Date(killedAt + RESERVATION_TTL_MS + 1))).toBe(dead.length);
      const afterExpiry = await inspector.state();
      expect(afterExpiry.reservations).toEqual([]);
      expectConsistent(afterExpiry, released);
      for (const keyId of [streamsKey.id, busyKey.id]) {
        expect(windowTotals(afterExpiry, keyId, 'day')).toEqual({ ...windowTotals(afterKill, keyId, 'day'), reservedTokens: 0 });
      }
    }

    // The key is not locked out: a request of each dialect is admitted and answered.
    const third = await spawnGateway(env);
    children.push(third);
    for (const dialect of DIALECT_NAMES) {
      const { path, body } = chatRequest(dialect, false);
      const response = await post(third.proxyUrl, path, streamsKey.key, body);
      expect([dialect, response.status]).toEqual([dialect, 200]);
      await response.text();
    }
    expect(await third.stop()).toBe(0);
    const final = await inspector.state();
    expectConsistent(final, released);
    expect(usageOfKey(readUsageLog(logFile).lines, streamsKey.id)).toEqual(final.rollup.get(streamsKey.id));
  }, 60_000);
});
