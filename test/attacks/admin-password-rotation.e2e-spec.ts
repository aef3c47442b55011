import type { AuditEntry, LoginResponse } from '@llmproxy/api-types';
import { testDatabases } from '../support/databases.js';
import { ADMIN_PASSWORD, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';

/**
 * ADMIN_PASSWORD leaked, the operator sets a new one and restarts: whoever signed in with the old one
 * as the built-in admin must be out, not until their session's expiry (ADMIN_SESSION_HOURS) comes.
 * Named accounts have passwords of their own and keep their sessions.
 */

const databases = await testDatabases();
const NEW_PASSWORD = 'the-rotated-admin-password-0456';

describe.each(databases)('rotating ADMIN_PASSWORD ($name)', (database) => {
  let upstream: FakeOllama;
  let url: string;
  let gateway: TestGateway | undefined;

  beforeAll(async () => {
    upstream = await startFakeOllama();
    url = await database.create();
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream.close();
    await database.dropAll();
  });

  const restart = async (env: Record<string, string> = {}) => {
    await gateway?.close();
    gateway = await startTestGateway(url, upstream.url, env);
    return gateway;
  };
  const login = async (body: Record<string, string>) => {
    const response = await fetch(`${gateway!.adminUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    return ((await response.json()) as LoginResponse).token;
  };
  const statusWith = async (bearer: string) => (await fetch(`${gateway!.adminUrl}/api/settings`, { headers: { authorization: `Bearer ${bearer}` } })).status;

  it('ends the built-in admin’s sessions at the first start with a new password, and only then', async () => {
    await restart();
    const stolen = await login({ password: ADMIN_PASSWORD });
    const created = await gateway!.admin('/api/accounts', { method: 'POST', body: JSON.stringify({ username: 'carol', role: 'admin', password: 'carols-own-password-0789' }) });
    expect(created.status).toBe(201);
    const carols = await login({ username: 'carol', password: 'carols-own-password-0789' });

    // A restart with the same password keeps every session.
    await restart();
    expect(await statusWith(stolen)).toBe(200);

    await restart({ ADMIN_PASSWORD: NEW_PASSWORD });
    expect(await statusWith(stolen)).toBe(401);
    expect(await statusWith(ADMIN_PASSWORD)).toBe(401);
    expect(await statusWith(carols)).toBe(200);
    expect(await statusWith(NEW_PASSWORD)).toBe(200);
    const fresh = await login({ password: NEW_PASSWORD });

    // Said in the audit log, with no password or hash in it.
    const audit = (await (await fetch(`${gateway!.adminUrl}/api/audit?limit=1000`, { headers: { authorization: `Bearer ${NEW_PASSWORD}` } })).json()) as AuditEntry[];
    const ended = audit.filter((row) => row.action === 'admin_password.change');
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ actor: null, target_type: 'admin_session', changes: { sessions_ended: { old: null, new: 1 } } });
    expect(JSON.stringify(audit)).not.toContain(NEW_PASSWORD);
    expect(JSON.stringify(audit)).not.toContain('scrypt');

    // The next start with the same new password ends nothing.
    await restart({ ADMIN_PASSWORD: NEW_PASSWORD });
    expect(await statusWith(fresh)).toBe(200);
    expect(await statusWith(carols)).toBe(200);
  });
});
