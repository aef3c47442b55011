import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import type { AccountView, AuditEntry, LoginResponse, MeView } from '@llmproxy/api-types';
import { ADMIN_CONTROLLERS } from '../../apps/gateway/src/admin/admin-app.module.js';
import { AdminAccounts1765200000000 } from '../../libs/persistence/src/migrations/1765200000000-admin-accounts.js';
import { ROLE_RULE, type RoleRule } from '../../apps/gateway/src/admin/auth/roles.js';
import { IS_PUBLIC } from '../../apps/gateway/src/common/public.decorator.js';
import { testDatabases } from '../support/databases.js';
import { ADMIN_PASSWORD, closeWithFakeOllama, startTestGateway, startWithFakeOllama, type TestGateway } from '../support/gateway.js';
import type { FakeOllama } from '../upstream/fake-ollama.js';

/**
 * Issue 16, item 5: named admins. Attacks by a viewer on every write route of the admin API, by a
 * deleted or demoted account's session, by a guesser probing for usernames, and on the last admin;
 * and where a password or its hash might leak (answers, audit, logs).
 *
 * The gateway trusts X-Forwarded-For from loopback, so the tests that fail logins on purpose do so
 * from addresses of their own and do not throttle the fixture's calls.
 */

const databases = await testDatabases();
const ENV = { TRUST_PROXY: 'loopback' };

interface Route {
  method: string;
  path: string;
  public: boolean;
  rule: RoleRule | undefined;
}

/** Every route of the admin API, read from the controllers' metadata, as Nest routes them. */
function adminRoutes(): Route[] {
  const routes: Route[] = [];
  for (const controller of ADMIN_CONTROLLERS) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const prototype = controller.prototype as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      if (method === undefined || path === undefined) continue;
      const full = `/${[base, path].map((part) => part.replace(/^\/|\/$/g, '')).filter(Boolean).join('/')}`;
      routes.push({
        method: RequestMethod[method],
        path: full,
        public: Reflect.getMetadata(IS_PUBLIC, handler) === true || Reflect.getMetadata(IS_PUBLIC, controller) === true,
        rule: (Reflect.getMetadata(ROLE_RULE, handler) ?? Reflect.getMetadata(ROLE_RULE, controller)) as RoleRule | undefined,
      });
    }
  }
  return routes;
}

const ROUTES = adminRoutes();
const WRITES = ROUTES.filter((route) => !['GET', 'HEAD'].includes(route.method));

/** A body each write would accept from an admin: a missing guard must show as a change, not as a 400. */
const BODIES: Record<string, unknown> = {
  'POST /api/api-keys': { name: 'made-by-a-viewer' },
  'PATCH /api/api-keys/:id': { name: 'renamed-by-a-viewer' },
  'PATCH /api/api-keys/:id/quota': { daily_request_limit: 1 },
  'PUT /api/settings': { num_ctx: 1024 },
  'POST /api/upstreams': { name: 'viewer-upstream', url: 'http://127.0.0.1:9', save_unreachable: true },
  'PATCH /api/upstreams/:id': { priority: 99 },
  'POST /api/accounts': { username: 'viewer-made', role: 'admin', password: 'a-long-enough-password' },
  'PATCH /api/accounts/:id': { role: 'admin' },
};

/** The writes a viewer may make, each on purpose: adding one here is a decision, not an accident. */
const OPEN_TO_VIEWERS = ['POST /api/logout', 'PUT /api/me/password'];

const PASSWORDS = {
  alice: 'alice-password-0123456789',
  vera: 'vera-password-0123456789',
  temp: 'temp-password-0123456789',
};

let addressCounter = 0;
const freshAddress = () => `198.51.100.${++addressCounter}`;

describe.each(databases)('named admins on $name', (database) => {
  let upstream: FakeOllama | undefined;
  let gateway: TestGateway;
  let databaseUrl: string;
  let keyId: number;
  let upstreamId: number;
  const ids: Record<string, number> = {};
  const tokens: Record<string, string> = {};
  /** Every answer the tests got: no password and no hash may be in any of them. */
  const answers: string[] = [];

  const call = async (path: string, init: { method?: string; body?: unknown; token?: string; address?: string } = {}) => {
    const response = await fetch(`${gateway.adminUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        'content-type': 'application/json',
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.address ? { 'x-forwarded-for': init.address } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await response.text();
    answers.push(text);
    return { status: response.status, text, json: <T>() => JSON.parse(text) as T, headers: response.headers };
  };
  let adminPassword = ADMIN_PASSWORD;
  const asAdmin = (path: string, init: { method?: string; body?: unknown } = {}) => call(path, { ...init, token: adminPassword });
  const login = async (username: string | undefined, password: string, address?: string) =>
    call('/api/login', { method: 'POST', body: username === undefined ? { password } : { username, password }, address });
  const createAccount = async (username: string, role: 'admin' | 'viewer', password: string) => {
    const created = await asAdmin('/api/accounts', { method: 'POST', body: { username, role, password } });
    expect([username, created.status]).toEqual([username, 201]);
    return created.json<AccountView>();
  };
  const sessionOf = async (username: string, password: string) => {
    const response = await login(username, password);
    expect([username, response.status]).toEqual([username, 200]);
    return response.json<LoginResponse>().token;
  };
  const audit = async () => (await asAdmin('/api/audit?limit=1000')).json<AuditEntry[]>();
  /** What a write could change, as an admin reads it. */
  const state = async () => {
    const keys = (await asAdmin('/api/api-keys')).json<Record<string, unknown>[]>().map(({ usage: _usage, last_used_at: _used, ...key }) => key);
    const upstreams = (await asAdmin('/api/upstreams')).json<Record<string, unknown>[]>().map(({ status: _status, ...rest }) => rest);
    const settings = (await asAdmin('/api/settings')).json<unknown>();
    const accounts = (await asAdmin('/api/accounts')).json<unknown>();
    const sessions = await gateway.shared.sql.all('SELECT token_hash, account_id FROM admin_sessions ORDER BY token_hash');
    const auditRows = (await audit()).filter((row) => row.action !== 'login.success');
    return { keys, upstreams, settings, accounts, sessions, auditRows };
  };

  beforeAll(async () => {
    databaseUrl = await database.create();
    ({ upstream, gateway } = await startWithFakeOllama(databaseUrl, ENV));
    keyId = (await gateway.createKey({ name: 'a-key' })).id;
    upstreamId = (await asAdmin('/api/upstreams')).json<{ id: number }[]>()[0]!.id;
    for (const [username, role] of [['alice', 'admin'], ['vera', 'viewer']] as const) {
      ids[username] = (await createAccount(username, role, PASSWORDS[username])).id;
      tokens[username] = await sessionOf(username, PASSWORDS[username]);
    }
  });

  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });

  it('finds the admin routes in the controllers, accounts and key writes among them', () => {
    const names = WRITES.map((route) => `${route.method} ${route.path}`);
    expect(names).toEqual(expect.arrayContaining(['POST /api/api-keys', 'DELETE /api/api-keys/:id', 'PUT /api/settings', 'POST /api/accounts', 'PATCH /api/accounts/:id', 'DELETE /api/accounts/:id', 'DELETE /api/upstreams/:id']));
    expect(WRITES.length).toBeGreaterThanOrEqual(16);
    // The writes open to viewers are exactly the ones marked, and marked on purpose.
    expect(WRITES.filter((route) => route.rule === 'any-role').map((route) => `${route.method} ${route.path}`).sort()).toEqual([...OPEN_TO_VIEWERS].sort());
  });

  it('a viewer gets 403 on every write route of the admin API, and nothing changes', async () => {
    const before = await state();
    const tried: string[] = [];
    for (const route of WRITES) {
      const name = `${route.method} ${route.path}`;
      if (route.public || OPEN_TO_VIEWERS.includes(name)) continue;
      const path = route.path
        .replace(/^\/api\/api-keys\/:id/, `/api/api-keys/${keyId}`)
        .replace(/^\/api\/upstreams\/:id/, `/api/upstreams/${upstreamId}`)
        .replace(/^\/api\/accounts\/:id/, `/api/accounts/${ids.vera}`) // even on itself: a viewer cannot make itself an admin
        .replace(/:id\b/, '1');
      const response = await call(path, { method: route.method, body: BODIES[name] ?? {}, token: tokens.vera });
      expect([name, response.status]).toEqual([name, 403]);
      expect(response.json<{ message: string }>().message).toContain('viewer');
      tried.push(name);
    }
    expect(tried.length).toBeGreaterThanOrEqual(14);
    expect(await state()).toEqual(before);
    expect((await call('/api/me', { token: tokens.vera })).json<MeView>()).toEqual({ username: 'vera', role: 'viewer', built_in: false, sso: false });
  });

  it('a viewer reads keys, usage, audit, upstreams and settings, but not the accounts', async () => {
    for (const path of ['/api/api-keys', '/api/overview', '/api/usage', '/api/usage.csv', '/api/audit', '/api/upstreams', '/api/settings', '/api/proxy-info', '/metrics']) {
      expect([path, (await call(path, { token: tokens.vera })).status]).toEqual([path, 200]);
    }
    expect((await call('/api/accounts', { token: tokens.vera })).status).toBe(403);
  });

  it('names the account behind each change in the audit log', async () => {
    const created = await call('/api/api-keys', { method: 'POST', body: { name: 'by-alice' }, token: tokens.alice });
    expect(created.status).toBe(201);
    const byPassword = await asAdmin('/api/api-keys', { method: 'POST', body: { name: 'by-the-built-in-admin' } });
    expect(byPassword.status).toBe(201);
    const rows = await audit();
    expect(rows.find((row) => row.action === 'key.create' && row.target_name === 'by-alice')?.actor).toBe('alice');
    expect(rows.find((row) => row.action === 'key.create' && row.target_name === 'by-the-built-in-admin')?.actor).toBe('admin');
    expect(rows.find((row) => row.action === 'account.create' && row.target_name === 'vera')).toMatchObject({ actor: 'admin', changes: { username: { old: null, new: 'vera' }, role: { old: null, new: 'viewer' } } });
    expect(rows.find((row) => row.action === 'login.success' && row.actor === 'vera')).toBeDefined();
  });

  it("a deleted account's session stops working at once; a demoted one's writes stop at once", async () => {
    const temp = await createAccount('temp', 'admin', PASSWORDS.temp);
    const token = await sessionOf('temp', PASSWORDS.temp);
    expect((await call('/api/api-keys', { method: 'POST', body: { name: 'temp-key' }, token })).status).toBe(201);

    expect((await asAdmin(`/api/accounts/${temp.id}`, { method: 'PATCH', body: { role: 'viewer' } })).status).toBe(200);
    expect((await call('/api/api-keys', { method: 'POST', body: { name: 'temp-key-2' }, token })).status).toBe(403);
    expect((await call('/api/api-keys', { token })).status).toBe(200);

    expect((await asAdmin(`/api/accounts/${temp.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call('/api/api-keys', { token, address: freshAddress() })).status).toBe(401);
    expect((await call('/api/me', { token, address: freshAddress() })).status).toBe(401);
    expect(await gateway.shared.sql.all('SELECT token_hash FROM admin_sessions WHERE account_id = ?', [temp.id])).toEqual([]);
    expect((await login('temp', PASSWORDS.temp, freshAddress())).status).toBe(401);
    expect((await audit()).find((row) => row.action === 'account.delete' && row.target_name === 'temp')?.actor).toBe('admin');
  });

  it('a password reset ends the sessions of the account it resets', async () => {
    const account = await createAccount('reset-me', 'viewer', 'first-password-0123');
    const token = await sessionOf('reset-me', 'first-password-0123');
    expect((await asAdmin(`/api/accounts/${account.id}`, { method: 'PATCH', body: { password: 'second-password-0123' } })).status).toBe(200);
    expect((await call('/api/me', { token, address: freshAddress() })).status).toBe(401);
    expect((await login('reset-me', 'first-password-0123', freshAddress())).status).toBe(401);
    expect((await login('reset-me', 'second-password-0123')).status).toBe(200);
    const row = (await audit()).find((r) => r.action === 'account.update' && r.target_name === 'reset-me');
    expect(row?.changes).toEqual({ password_reset: { old: null, new: true } });
  });

  it('a wrong password for an existing and for a missing username get the same answer after the same work', async () => {
    const tries = async (username: string) => {
      const samples: { status: number; text: string; ms: number }[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const response = await login(username, `wrong-${i}-0123456789`, freshAddress());
        samples.push({ status: response.status, text: response.text, ms: performance.now() - started });
      }
      return samples;
    };
    await tries('vera'); // warm-up
    const existing = await tries('vera');
    const missing = await tries('nobody-by-this-name');
    const upper = await tries('VERA');
    for (const sample of [...existing, ...missing, ...upper]) {
      expect(sample.status).toBe(401);
      expect(sample.text).toBe(existing[0]!.text);
    }
    expect(existing[0]!.text).toContain('wrong username or password');
    // Both pay for one scrypt (tens of ms); without the decoy hash the missing name would answer in about one.
    const median = (samples: { ms: number }[]) => samples.map((s) => s.ms).sort((a, b) => a - b)[2]!;
    const ratio = median(missing) / median(existing);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('failed logins with a username count towards the same throttle as the admin password: ten a minute, then 429 even for the right one', async () => {
    const address = freshAddress();
    for (let i = 0; i < 5; i++) expect((await login('vera', `wrong-${i}-0123456789`, address)).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await login('nobody', `wrong-${i}-0123456789`, address)).status).toBe(401);
    expect((await login(undefined, 'wrong-password-guess', address)).status).toBe(401);
    expect((await call('/api/api-keys', { token: 'a-wrong-bearer-guess', address })).status).toBe(401);
    const throttled = await login('vera', PASSWORDS.vera, address);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await login('admin', ADMIN_PASSWORD, address)).status).toBe(429);
    // A wrong current password when changing one's own is a guess as well.
    const other = freshAddress();
    for (let i = 0; i < 10; i++) {
      const response = await call('/api/me/password', { method: 'PUT', body: { current_password: `wrong-${i}-0123456789`, new_password: 'never-set-0123456789' }, token: tokens.vera, address: other });
      expect(response.status).toBe(400);
    }
    expect((await call('/api/me/password', { method: 'PUT', body: { current_password: PASSWORDS.vera, new_password: 'never-set-0123456789' }, token: tokens.vera, address: other })).status).toBe(429);
    const failures = (await audit()).filter((row) => row.action === 'login.failure' && (row.changes?.client_address as { new: unknown }).new === address);
    expect(failures).toHaveLength(10);
    for (const row of failures) expect(row.actor).toBeNull();
  });

  it('a viewer changes its own password with the current one; its other sessions end, this one stays', async () => {
    const other = await sessionOf('vera', PASSWORDS.vera);
    const changed = await call('/api/me/password', { method: 'PUT', body: { current_password: PASSWORDS.vera, new_password: 'vera-new-password-0123' }, token: tokens.vera });
    expect(changed.status).toBe(204);
    PASSWORDS.vera = 'vera-new-password-0123';
    expect((await call('/api/me', { token: tokens.vera })).status).toBe(200);
    expect((await call('/api/me', { token: other, address: freshAddress() })).status).toBe(401);
    expect((await login('vera', PASSWORDS.vera)).status).toBe(200);
    // The built-in admin's password lives in the environment.
    expect((await asAdmin('/api/me/password', { method: 'PUT', body: { current_password: ADMIN_PASSWORD, new_password: 'whatever-0123456789' } })).status).toBe(409);
  });

  it('the last admin account can be neither deleted nor made a viewer, also by two admins at once', async () => {
    // alice is the only admin account (temp is gone, vera and reset-me are viewers).
    expect((await call(`/api/accounts/${ids.alice}`, { method: 'DELETE', token: tokens.alice })).status).toBe(409);
    expect((await asAdmin(`/api/accounts/${ids.alice}`, { method: 'DELETE' })).status).toBe(409);
    expect((await asAdmin(`/api/accounts/${ids.alice}`, { method: 'PATCH', body: { role: 'viewer' } })).status).toBe(409);
    expect((await asAdmin('/api/accounts')).json<AccountView[]>().find((a) => a.id === ids.alice)?.role).toBe('admin');
    expect((await call('/api/me', { token: tokens.alice })).json<MeView>().role).toBe('admin');

    const bob = await createAccount('bob', 'admin', 'bob-password-0123456789');
    const bobToken = await sessionOf('bob', 'bob-password-0123456789');
    // Each demotes the other at the same moment: one of them must stay an admin.
    const [first, second] = await Promise.all([
      call(`/api/accounts/${bob.id}`, { method: 'PATCH', body: { role: 'viewer' }, token: tokens.alice }),
      call(`/api/accounts/${ids.alice}`, { method: 'PATCH', body: { role: 'viewer' }, token: bobToken }),
    ]);
    // One wins; the other is refused as the last admin (409), or — when its guard ran after the
    // winner's commit — because its own account is a viewer by then (403).
    const statuses = [first.status, second.status];
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect([403, 409]).toContain(statuses.find((status) => status !== 200));
    const admins = (await asAdmin('/api/accounts')).json<AccountView[]>().filter((a) => a.role === 'admin');
    expect(admins).toHaveLength(1);
    // Once another admin exists, the old one may go.
    const survivor = admins[0]!;
    const leaving = survivor.id === ids.alice ? bob.id : ids.alice;
    expect((await asAdmin(`/api/accounts/${leaving}`, { method: 'PATCH', body: { role: 'admin' } })).status).toBe(200);
    expect((await asAdmin(`/api/accounts/${leaving}`, { method: 'DELETE' })).status).toBe(204);
    if (leaving === ids.alice) tokens.alice = bobToken;
  });

  it('refuses bad account writes with 4xx, never 500', async () => {
    const cases: [unknown, number][] = [
      [{ username: 'admin', role: 'viewer', password: 'long-enough-password' }, 409],
      [{ username: 'VERA', role: 'viewer', password: 'long-enough-password' }, 409],
      [{ username: 'shorty', role: 'viewer', password: 'short' }, 400],
      [{ username: 'x', role: 'root', password: 'long-enough-password' }, 400],
      [{ username: 'white space', role: 'viewer', password: 'long-enough-password' }, 400],
      [{ username: 'y', role: 'viewer', password: 'long-enough-password', password_hash: 'scrypt$1$1$1$a$b' }, 400],
      [{ username: 42, role: 'viewer', password: 'long-enough-password' }, 400],
    ];
    for (const [body, status] of cases) expect([body, (await asAdmin('/api/accounts', { method: 'POST', body })).status]).toEqual([body, status]);
    expect((await asAdmin('/api/accounts/999999', { method: 'PATCH', body: { role: 'viewer' } })).status).toBe(404);
    expect((await asAdmin('/api/accounts/999999', { method: 'DELETE' })).status).toBe(404);
    expect((await asAdmin('/api/accounts/abc', { method: 'DELETE' })).status).toBe(400);
    expect((await asAdmin(`/api/accounts/${ids.vera}`, { method: 'PATCH', body: { username: 'admin' } })).status).toBe(409);
    expect((await login('vera', 'x'.repeat(2000), freshAddress())).status).toBe(400);
  });

  it('the old password-only login and the built-in "admin" keep working', async () => {
    const old = await login(undefined, ADMIN_PASSWORD);
    expect(old.status).toBe(200);
    const { token } = old.json<LoginResponse>();
    expect((await call('/api/me', { token })).json<MeView>()).toEqual({ username: 'admin', role: 'admin', built_in: true, sso: false });
    const named = await login('admin', ADMIN_PASSWORD);
    expect(named.json<LoginResponse>()).toMatchObject({ username: 'admin', role: 'admin' });
    expect((await login('admin', PASSWORDS.alice, freshAddress())).status).toBe(401);
  });

  it('no password and no hash in any answer, audit row or log line', async () => {
    const hashes = (await gateway.shared.sql.all<{ password_hash: string }>('SELECT password_hash FROM admin_accounts')).map((row) => row.password_hash);
    expect(hashes.length).toBeGreaterThan(1);
    for (const hash of hashes) expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    const secrets = [...Object.values(PASSWORDS), 'first-password-0123', 'second-password-0123', 'bob-password-0123456789', ...hashes.flatMap((hash) => hash.split('$').slice(4))];
    const everything = [...answers, JSON.stringify(await audit()), ...gateway.appLog].join('\n');
    expect(everything).not.toContain('scrypt$');
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it('ADMIN_PASSWORD rotated in the environment: the new one works at the next start, the old one no longer, accounts stay', async () => {
    await gateway.close();
    const rotated = 'rotated-admin-password-0123';
    const restarted = await startTestGateway(databaseUrl, upstream!.url, { ...ENV, ADMIN_PASSWORD: rotated });
    gateway = restarted;
    adminPassword = rotated;
    const at = (path: string, token: string, address?: string) =>
      fetch(`${restarted.adminUrl}${path}`, { headers: { authorization: `Bearer ${token}`, ...(address ? { 'x-forwarded-for': address } : {}) } }).then((r) => r.status);
    expect(await at('/api/api-keys', ADMIN_PASSWORD, freshAddress())).toBe(401);
    expect(await at('/api/api-keys', rotated)).toBe(200);
    expect(await at('/api/me', tokens.vera)).toBe(200);
    const relogin = await fetch(`${restarted.adminUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'vera', password: PASSWORDS.vera }) });
    expect(relogin.status).toBe(200);
  });

  it('migration 1765200000000 goes down and up again; the audit log stays readable', async () => {
    const runner = gateway.shared.dataSource.createQueryRunner();
    const migration = new AdminAccounts1765200000000();
    const rowsBefore = (await asAdmin('/api/audit?limit=1000')).json<AuditEntry[]>().length;
    try {
      await migration.down(runner);
      expect(await runner.hasTable('admin_accounts')).toBe(false);
      expect(await runner.hasColumn('audit_log', 'actor')).toBe(false);
      await migration.up(runner);
      expect(await runner.hasColumn('admin_sessions', 'account_id')).toBe(true);
    } finally {
      await runner.release();
    }
    const rows = (await asAdmin('/api/audit?limit=1000')).json<AuditEntry[]>();
    expect(rows.length).toBeGreaterThanOrEqual(rowsBefore);
    expect(rows.filter((row) => row.actor !== null)).toEqual([]);
    await createAccount('after-round-trip', 'viewer', 'round-trip-password-0123');
  });
});
