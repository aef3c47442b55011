import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEntry } from '@llmproxy/api-types';
import { authFailures } from '../../apps/gateway/src/admin/auth/auth-failures.js';
import { testDatabases } from '../support/databases.js';
import { ADMIN_PASSWORD, closeWithFakeOllama, startTestGateway, startWithFakeOllama, type TestGateway } from '../support/gateway.js';
import type { FakeOllama } from '../upstream/fake-ollama.js';

/**
 * Issue 13, item 4: guessing ADMIN_PASSWORD. Every admin route takes `Bearer <ADMIN_PASSWORD>`, so
 * every admin route is a place to guess it: a wrong credential anywhere counts towards one throttle per
 * client address (10 failures a minute, then 429 with Retry-After), is audited (address and time, never
 * the guess), and on PostgreSQL the count is shared by every replica.
 *
 * The gateways trust X-Forwarded-For from loopback, so each test guesses from an address of its own
 * and the fixture's own admin calls (from 127.0.0.1) stay unthrottled.
 */

const databases = await testDatabases();
const METRICS_TOKEN = 'scrape-token-for-the-guessing-test';
const LIMIT = 10;
const ENV = { TRUST_PROXY: 'loopback', METRICS_TOKEN };

let addressCounter = 0;
/** A client address no other test of this file uses (TEST-NET-3). */
const freshAddress = () => `203.0.113.${++addressCounter}`;
/** A guess nobody could mistake for anything else in a log or an audit row. */
const freshGuess = () => `guess-${randomBytes(6).toString('hex')}`;

type Attempt = { method: string; path: string; body?: unknown };
/** Admin routes a guesser may try a Bearer credential on; /api/login takes the guess in its body. */
const ROUTES: Attempt[] = [
  { method: 'GET', path: '/api/api-keys' },
  { method: 'GET', path: '/api/settings' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/api/audit' },
  { method: 'GET', path: '/api/usage' },
  { method: 'GET', path: '/api/proxy-info' },
  { method: 'PUT', path: '/api/settings', body: { num_ctx: 4096 } },
  { method: 'POST', path: '/api/api-keys', body: { name: 'guesser' } },
  { method: 'POST', path: '/api/logout' },
];

/** One try of `credential` from `address` on `route` (login: as the password; elsewhere: as the Bearer). */
async function attempt(gateway: TestGateway, address: string, route: Attempt | 'login', credential: string): Promise<Response> {
  const login = route === 'login';
  const { method, path, body } = login ? { method: 'POST', path: '/api/login', body: { password: credential } } : route;
  const response = await fetch(`${gateway.adminUrl}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': address,
      ...(login ? {} : { authorization: `Bearer ${credential}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response;
}

function expectThrottled(response: Response, what: string): void {
  expect([what, response.status]).toEqual([what, 429]);
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

const label = (route: Attempt | 'login') => (route === 'login' ? 'POST /api/login' : `${route.method} ${route.path}`);

describe.each(databases)('guessing the admin password on $name', (database) => {
  let upstream: FakeOllama | undefined;
  let gateway: TestGateway;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await database.create();
    ({ upstream, gateway } = await startWithFakeOllama(databaseUrl, ENV));
  });

  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });

  const auditRows = async (): Promise<AuditEntry[]> => {
    const response = await gateway.admin('/api/audit?limit=1000');
    expect(response.status).toBe(200);
    return (await response.json()) as AuditEntry[];
  };
  const failuresFrom = (rows: AuditEntry[], address: string) =>
    rows.filter((row) => row.action === 'login.failure' && (row.changes?.client_address as { new?: unknown } | undefined)?.new === address);

  it('wrong guesses on any admin route and on /api/login share one throttle: 10 a minute, then 429 with Retry-After everywhere', async () => {
    const address = freshAddress();
    const tries: (Attempt | 'login')[] = [...ROUTES.slice(0, 5), 'login' as const, ...ROUTES.slice(5), 'login' as const].slice(0, LIMIT);
    for (const route of tries) {
      const response = await attempt(gateway, address, route, freshGuess());
      expect([label(route), response.status]).toEqual([label(route), 401]);
    }
    for (const route of [...ROUTES, 'login' as const]) expectThrottled(await attempt(gateway, address, route, freshGuess()), label(route));
    // While the address is throttled, not even the right password is compared: a guesser must not learn
    // it is right by the answer changing. The same for METRICS_TOKEN.
    expectThrottled(await attempt(gateway, address, ROUTES[0]!, ADMIN_PASSWORD), 'the right password as Bearer');
    expectThrottled(await attempt(gateway, address, 'login', ADMIN_PASSWORD), 'the right password at /api/login');
    expectThrottled(await attempt(gateway, address, ROUTES[2]!, METRICS_TOKEN), 'METRICS_TOKEN on /metrics');

    // Another address is not throttled with it, and neither are requests without any credential.
    expect((await attempt(gateway, freshAddress(), ROUTES[0]!, freshGuess())).status).toBe(401);
    expect((await fetch(`${gateway.adminUrl}/api/api-keys`, { headers: { 'x-forwarded-for': address } })).status).toBe(401);
    expect((await gateway.admin('/api/api-keys')).status).toBe(200);
  });

  it('parallel guesses get no more answers than the limit', async () => {
    const address = freshAddress();
    const statuses = await Promise.all(
      Array.from({ length: 3 * LIMIT }, (_, i) => attempt(gateway, address, i % 4 === 0 ? 'login' : ROUTES[i % ROUTES.length]!, freshGuess()).then((r) => r.status)),
    );
    expect(statuses.filter((status) => status === 401)).toHaveLength(LIMIT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(2 * LIMIT);
  });

  it('a script sending the right password in parallel is never throttled by its own requests', async () => {
    const address = freshAddress();
    const statuses = await Promise.all(Array.from({ length: 3 * LIMIT }, () => attempt(gateway, address, ROUTES[0]!, ADMIN_PASSWORD).then((r) => r.status)));
    expect(statuses).toEqual(Array(3 * LIMIT).fill(200));
  });

  it('audits every failed credential with the address and the time, and never writes the guess anywhere', async () => {
    const address = freshAddress();
    const guesses = [freshGuess(), freshGuess(), freshGuess(), freshGuess()];
    const before = Date.now();
    await attempt(gateway, address, ROUTES[0]!, guesses[0]!);
    await attempt(gateway, address, ROUTES[2]!, guesses[1]!);
    await attempt(gateway, address, ROUTES[6]!, guesses[2]!);
    await attempt(gateway, address, 'login', guesses[3]!);

    const rows = await auditRows();
    const failures = failuresFrom(rows, address);
    expect(failures).toHaveLength(4);
    for (const row of failures) {
      expect(Date.parse(row.at)).toBeGreaterThanOrEqual(before - 1_000);
      expect(Date.parse(row.at)).toBeLessThanOrEqual(Date.now() + 1_000);
    }
    const written = JSON.stringify(rows) + gateway.appLog.join('\n') + JSON.stringify(gateway.usageLines());
    const stored = JSON.stringify(await gateway.shared.sql.all('SELECT * FROM audit_log'));
    for (const guess of [...guesses, ADMIN_PASSWORD, METRICS_TOKEN]) {
      expect(written).not.toContain(guess);
      expect(stored).not.toContain(guess);
    }
  });

  it('METRICS_TOKEN scrapes without counting; a wrong token on /metrics is a guess like any other', async () => {
    const address = freshAddress();
    const metrics = ROUTES[2]!;
    for (let i = 0; i < LIMIT + 2; i++) expect((await attempt(gateway, address, metrics, METRICS_TOKEN)).status).toBe(200);
    for (let i = 0; i < LIMIT; i++) expect((await attempt(gateway, address, metrics, `wrong-${METRICS_TOKEN}-${i}`)).status).toBe(401);
    expectThrottled(await attempt(gateway, address, metrics, `wrong-${METRICS_TOKEN}`), 'a wrong token after ten');
    expect(failuresFrom(await auditRows(), address)).toHaveLength(LIMIT);
  });

  it('a session from an earlier login keeps working while its address is throttled; the right password does not count', async () => {
    const address = freshAddress();
    for (let i = 0; i < LIMIT + 2; i++) expect((await attempt(gateway, address, ROUTES[0]!, ADMIN_PASSWORD)).status).toBe(200);
    const login = await fetch(`${gateway.adminUrl}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify({ password: ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    for (let i = 0; i < LIMIT; i++) expect((await attempt(gateway, address, ROUTES[1]!, freshGuess())).status).toBe(401);
    expectThrottled(await attempt(gateway, address, ROUTES[1]!, freshGuess()), 'the eleventh guess');
    expect((await attempt(gateway, address, ROUTES[0]!, token)).status).toBe(200);
  });

  it('counts an IPv6 client by its /64: a fresh address for every guess gains nothing', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= LIMIT + 1; i++) statuses.push((await attempt(gateway, `2001:db8:0:7::${i.toString(16)}`, ROUTES[0]!, freshGuess())).status);
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
    expect((await attempt(gateway, '2001:db8:0:8::1', ROUTES[0]!, freshGuess())).status).toBe(401);
  });

  if (database.name === 'postgres') {
    it('two replicas on one database share the throttle: alternating between them gets no more tries', async () => {
      const replica = await startTestGateway(databaseUrl, upstream!.url, ENV);
      try {
        const address = freshAddress();
        const statuses: number[] = [];
        for (let i = 0; i < 2 * LIMIT + 2; i++) {
          const response = await attempt(i % 2 === 0 ? gateway : replica, address, i % 3 === 0 ? 'login' : ROUTES[i % ROUTES.length]!, freshGuess());
          statuses.push(response.status);
        }
        expect(statuses).toEqual([...Array(LIMIT).fill(401), ...Array(LIMIT + 2).fill(429)]);

        const other = freshAddress();
        const parallel = await Promise.all(
          Array.from({ length: 3 * LIMIT }, (_, i) => attempt(i % 2 === 0 ? gateway : replica, other, ROUTES[i % ROUTES.length]!, freshGuess()).then((r) => r.status)),
        );
        expect(parallel.filter((status) => status === 401)).toHaveLength(LIMIT);
        expect(parallel.filter((status) => status === 429)).toHaveLength(2 * LIMIT);
      } finally {
        await replica.close();
      }
    });
  }

  // Last: it claims at times an hour ahead, which prunes every row the tests above left.
  it('keeps its table bounded: rows older than the window go, and a flood from many addresses keeps at most maxRows', async () => {
    const count = async () => Number((await gateway.shared.sql.one<{ n: number }>('SELECT COUNT(*) AS n FROM admin_auth_failures'))!.n);
    const store = authFailures(gateway.shared.sql, { maxRows: 50 });
    const later = Date.now() + 3_600_000;
    for (let i = 0; i < 200; i++) expect(await store.attempt(`flood-${i}`, later + i, () => false)).toEqual({ outcome: 'invalid' });
    expect(await count()).toBe(50);
    await store.attempt('flood-0', later + 200 + 60_000, () => false);
    expect(await count()).toBe(1);
    // A right credential writes nothing.
    expect(await store.attempt('flood-1', later + 200 + 60_000, () => true)).toEqual({ outcome: 'ok' });
    expect(await count()).toBe(1);
  });
});

describe('ADMIN_PASSWORD shorter than 12 characters', () => {
  const MAIN = fileURLToPath(new URL('../../dist/apps/gateway/src/main.js', import.meta.url));
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the built server in a fresh directory; resolves with its exit, or with its output once it listens. */
  function run(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const cwd = mkdtempSync(join(tmpdir(), 'llmproxy-guessing-'));
    dirs.push(cwd);
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), PROXY_HOST: '127.0.0.1', PROXY_PORT: '0', ADMIN_HOST: '127.0.0.1', ADMIN_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the server neither exited nor listened within 15 s:\n${stderr}${stdout}`));
      }, 15_000);
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (!stdout.includes('listening on')) return;
        clearTimeout(timer);
        child.once('close', () => resolve({ code: null, stdout, stderr }));
        child.kill('SIGKILL');
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} does not exist: run \`npm run build\` first`);
  });

  it('refuses to start with one line naming ADMIN_PASSWORD, without echoing it', async () => {
    const { code, stdout, stderr } = await run({ ADMIN_PASSWORD: 'change-me' });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^llmproxy: invalid configuration: ADMIN_PASSWORD must be at least 12 characters/)]);
    expect(stderr).not.toContain('change-me');
  });

  it('starts with it under `npm run dev` (LLMPROXY_DEV=1, which scripts/dev.mjs sets)', async () => {
    const { code, stdout } = await run({ ADMIN_PASSWORD: 'dev', LLMPROXY_DEV: '1' });
    expect(code).toBeNull();
    expect(stdout).toContain('listening on');
  });
});
