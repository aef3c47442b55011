import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { ApiKeyWithUsage, AuditEntry, UsageResponse } from '@llmproxy/api-types';
import { FAKE_OLLAMA_VERSION, startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { ADMIN_PASSWORD, eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const databases = await testDatabases();
/** What key holders may ask of the server, as a fresh install has it (libs/settings). */
const POLICY_DEFAULTS = { keep_alive_min_s: 300, keep_alive_max_s: 1800, max_num_ctx: null, allow_load_options: false, allow_cloud_models: false };

type KeyWithUsage = ApiKeyWithUsage;
type AuditRow = AuditEntry;
type UsageReport = UsageResponse;

/** A port nothing listens on: an Ollama URL that is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The local date in Europe/Berlin (the default APP_TZ), as the usage report writes it. */
function berlinDate(date: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

describe.each(databases)('admin API on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let databaseUrl: string;
  /** Every secret the tests saw: none may appear in the audit log. */
  const secrets: string[] = [ADMIN_PASSWORD];

  beforeAll(async () => {
    upstream = await startFakeOllama();
    databaseUrl = await database.create();
    gateway = await startTestGateway(databaseUrl, upstream.url);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await database.dropAll();
  });

  /** An admin request with exactly the given Authorization (or none). */
  const call = (path: string, authorization?: string, init: RequestInit = {}) =>
    fetch(`${gateway.adminUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}), ...(init.headers ?? {}) },
    });
  const json = (method: string, body: unknown): RequestInit => ({ method, body: JSON.stringify(body) });
  const errorText = async (response: Response) => JSON.stringify(((await response.json()) as { message: unknown }).message);
  const chat = (key: string) =>
    fetch(`${gateway.proxyUrl}/api/chat`, {
      method: 'POST',
      headers: { 'x-api-key': key },
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hello there' }], stream: false }),
    });
  const createKey = async (body: Record<string, unknown>) => {
    const created = await gateway.createKey(body);
    secrets.push(created.key);
    return created;
  };
  const audit = async (query = '') => {
    const response = await gateway.admin(`/api/audit${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as AuditRow[];
  };

  /** Wrong credentials from 127.0.0.1 count towards its admin throttle (shared by every gateway on the database): start afresh. */
  const forgetFailedLogins = () => gateway.shared.sql.run('DELETE FROM admin_auth_failures');

  describe('authentication', () => {
    afterEach(forgetFailedLogins);

    const guarded = ['/api/api-keys', '/api/settings', '/api/ollama-models', '/api/proxy-info', '/api/usage', '/api/usage.csv', '/api/audit'];

    it.each(guarded)('GET %s answers 401 without credentials, with a wrong password and with an unknown token', async (path) => {
      for (const authorization of [undefined, 'Bearer wrong-password', `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`, 'Bearer 0123456789abcdef']) {
        const response = await call(path, authorization);
        expect(response.status).toBe(401);
        expect(await response.json()).toMatchObject({ statusCode: 401, message: expect.stringContaining('admin login required') });
      }
      expect((await call(path, `Bearer ${ADMIN_PASSWORD}`)).status).toBe(200);
    });

    it('answers 401 on every write without credentials', async () => {
      const writes: [string, string][] = [
        ['POST', '/api/api-keys'],
        ['PATCH', '/api/api-keys/1'],
        ['PATCH', '/api/api-keys/1/quota'],
        ['POST', '/api/api-keys/1/rotate'],
        ['PUT', '/api/api-keys/1/activate'],
        ['PUT', '/api/api-keys/1/deactivate'],
        ['DELETE', '/api/api-keys/1'],
        ['PUT', '/api/settings'],
        ['POST', '/api/logout'],
      ];
      for (const [method, path] of writes) expect([method, path, (await call(path, undefined, json(method, {}))).status]).toEqual([method, path, 401]);
    });

    it('logs in with the password: the session token works until logout, then 401', async () => {
      const before = Date.now();
      const login = await call('/api/login', undefined, json('POST', { password: ADMIN_PASSWORD }));
      expect(login.status).toBe(200);
      const session = (await login.json()) as { token: string; expires_at: string };
      secrets.push(session.token);
      expect(session.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const lifetime = Date.parse(session.expires_at) - before;
      expect(lifetime).toBeGreaterThan(12 * 3_600_000 - 5_000);
      expect(lifetime).toBeLessThan(12 * 3_600_000 + 5_000);

      expect((await call('/api/api-keys', `Bearer ${session.token}`)).status).toBe(200);
      expect((await call('/api/settings', `bearer ${session.token}`)).status).toBe(200);
      const stored = await gateway.shared.sql.all<{ token_hash: string }>('SELECT token_hash FROM admin_sessions');
      expect(stored.map((row) => row.token_hash)).toContain(createHash('sha256').update(session.token).digest('hex'));

      expect((await call('/api/logout', `Bearer ${session.token}`, { method: 'POST' })).status).toBe(204);
      expect((await call('/api/api-keys', `Bearer ${session.token}`)).status).toBe(401);
      expect((await call('/api/logout', `Bearer ${session.token}`, { method: 'POST' })).status).toBe(401);
    });

    it('refuses an expired session with 401', async () => {
      const token = 'expired-session-token-for-the-test-0123456789';
      const past = new Date(Date.now() - 60_000);
      const { sql } = gateway.shared;
      await sql.run('INSERT INTO admin_sessions (token_hash, created_at, expires_at) VALUES (?, ?, ?)', [
        createHash('sha256').update(token).digest('hex'),
        sql.timestamp(new Date(past.getTime() - 12 * 3_600_000)),
        sql.timestamp(past),
      ]);
      const response = await call('/api/api-keys', `Bearer ${token}`);
      expect(response.status).toBe(401);
    });

    it('answers a wrong password with 401 and a missing one with 400 naming the field', async () => {
      expect((await call('/api/login', undefined, json('POST', { password: 'guess' }))).status).toBe(401);
      const missing = await call('/api/login', undefined, json('POST', {}));
      expect(missing.status).toBe(400);
      expect(await errorText(missing)).toContain('password');
    });

    it('does not serve the admin API on the proxy port', async () => {
      const response = await fetch(`${gateway.proxyUrl}/api/login`, { method: 'POST', body: JSON.stringify({ password: ADMIN_PASSWORD }) });
      expect([401, 404]).toContain(response.status);
    });
  });

  describe('keys', () => {
    it('creates, lists with usage, activates, deactivates and deletes (the existing endpoints)', async () => {
      const { id, key } = await createKey({ name: 'lifecycle', daily_request_limit: 5 });
      const listed = (await (await gateway.admin('/api/api-keys')).json()) as KeyWithUsage[];
      expect(listed.find((k) => k.id === id)).toMatchObject({ name: 'lifecycle', is_active: true, usage: { day: { requests: 0, request_limit: 5 } } });
      expect(JSON.stringify(listed)).not.toContain(key);

      const deactivated = await gateway.admin(`/api/api-keys/${id}/deactivate`, { method: 'PUT' });
      expect(await deactivated.json()).toMatchObject({ id, is_active: false });
      expect((await chat(key)).status).toBe(401);
      const activated = await gateway.admin(`/api/api-keys/${id}/activate`, { method: 'PUT' });
      expect(await activated.json()).toMatchObject({ id, is_active: true });
      expect((await chat(key)).status).toBe(200);

      expect((await gateway.admin(`/api/api-keys/${id}`, { method: 'DELETE' })).status).toBe(204);
      expect((await gateway.admin(`/api/api-keys/${id}`, { method: 'DELETE' })).status).toBe(404);
      expect((await chat(key)).status).toBe(401);
    });

    it('PATCH changes name, expiry, allowed models and max concurrent, and answers the key with usage', async () => {
      const { id, key } = await createKey({ name: 'editable' });
      const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
      const response = await gateway.admin(`/api/api-keys/${id}`, json('PATCH', { name: 'renamed', expires_at: expiresAt, allowed_models: ['llama3.2', 'qwen3:4b'], max_concurrent: 3 }));
      expect(response.status).toBe(200);
      const patched = (await response.json()) as KeyWithUsage;
      expect(patched).toMatchObject({ id, name: 'renamed', expires_at: expiresAt, allowed_models: ['llama3.2', 'qwen3:4b'], max_concurrent: 3 });
      expect(patched.usage.day).toMatchObject({ requests: 0 });
      expect(patched).not.toHaveProperty('key');

      const cleared = (await (await gateway.admin(`/api/api-keys/${id}`, json('PATCH', { expires_at: null, allowed_models: null, max_concurrent: null }))).json()) as KeyWithUsage;
      expect(cleared).toMatchObject({ id, name: 'renamed', expires_at: null, allowed_models: null, max_concurrent: null });
      expect((await chat(key)).status).toBe(200);
      expect((await gateway.admin('/api/api-keys/999999', json('PATCH', { name: 'x' }))).status).toBe(404);
    });

    it('refuses a second key of the same name, in any letter case, on create and on rename, and changes nothing', async () => {
      const { id: first } = await createKey({ name: 'Team-Alpha' });
      const clash = await gateway.admin('/api/api-keys', json('POST', { name: 'team-alpha' }));
      expect(clash.status).toBe(409);
      expect(await clash.json()).toMatchObject({ message: "a key named 'team-alpha' already exists; key names must differ" });
      const { id: second } = await createKey({ name: 'team-beta' });
      expect((await gateway.admin(`/api/api-keys/${second}`, json('PATCH', { name: 'TEAM-ALPHA' }))).status).toBe(409);
      // Renaming a key to its own name (or its own name in another case) is no clash.
      expect((await gateway.admin(`/api/api-keys/${first}`, json('PATCH', { name: 'team-alpha' }))).status).toBe(200);
      const names = ((await (await gateway.admin('/api/api-keys')).json()) as { name: string }[]).map((k) => k.name);
      expect(names.filter((name) => name.toLowerCase().startsWith('team-'))).toEqual(['team-alpha', 'team-beta']);
    });

    it.each([
      [{ expires_at: '2001-01-01T00:00:00Z' }, 'expires_at must be in the future'],
      [{ expires_at: 'next tuesday' }, 'expires_at must be an ISO 8601 date-time'],
      [{ max_concurrent: 0 }, 'max_concurrent'],
      [{ max_concurrent: 'two' }, 'max_concurrent'],
      [{ name: '' }, 'name'],
      [{ name: null }, 'name'],
      [{ allowed_models: 'llama3.2' }, 'allowed_models'],
      [{ allowed_models: ['llama3.2', 'no-such-model:7b'] }, "allowed_models: Ollama has no model 'no-such-model:7b'"],
      [{ colour: 'blue' }, 'property colour should not exist'],
    ])('PATCH %j → 400 naming the field', async (body, message) => {
      const { id } = await createKey();
      const response = await gateway.admin(`/api/api-keys/${id}`, json('PATCH', body));
      expect(response.status).toBe(400);
      expect(await errorText(response)).toContain(message);
    });

    it('sets the queue weight on create and update (an integer 1..100), audited, and the fair queue gives the key that many turns', async () => {
      const plain = await createKey({ name: 'unweighted' });
      const { id, key: weighted } = await createKey({ name: 'weighted', queue_weight: 3 });
      const weightOf = async (keyId: number) => ((await (await gateway.admin('/api/api-keys')).json()) as KeyWithUsage[]).find((k) => k.id === keyId)?.queue_weight;
      expect(await weightOf(plain.id)).toBe(1);
      expect(await weightOf(id)).toBe(3);

      const patched = await gateway.admin(`/api/api-keys/${id}`, json('PATCH', { queue_weight: 1 }));
      expect(patched.status).toBe(200);
      expect(await patched.json()).toMatchObject({ id, queue_weight: 1 });
      expect(await weightOf(id)).toBe(1);
      const audited = (await audit('?limit=1000')).find((r) => r.action === 'key.update' && r.target_id === String(id));
      expect(audited?.changes).toEqual({ queue_weight: { old: 3, new: 1 } });

      for (const bad of [0, 101, 1.5, null, 'two']) {
        const update = await gateway.admin(`/api/api-keys/${id}`, json('PATCH', { queue_weight: bad }));
        expect([bad, update.status]).toEqual([bad, 400]);
        expect(await errorText(update)).toContain('queue_weight');
      }
      for (const bad of [0, 101]) {
        const create = await gateway.admin('/api/api-keys', json('POST', { name: 'overweight', queue_weight: bad }));
        expect([bad, create.status]).toEqual([bad, 400]);
        expect(await errorText(create)).toContain(bad === 0 ? 'queue_weight must not be less than 1' : 'queue_weight must not be greater than 100');
      }
      expect(await weightOf(id)).toBe(1);

      // The scheduler sees the stored weight: one slot, the weighted key holds it and queues three
      // more, the plain key queues two after them. Weight 1 alternates the keys; weight 2 gives the
      // weighted key two turns per round.
      const [server] = (await (await gateway.admin('/api/upstreams')).json()) as { id: number; max_parallel: number }[];
      const slotOrder = async () => {
        const seen = upstream.requests.length;
        const post = (k: string, tag: string) =>
          fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${k}` }, body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: tag }], stream: false }) });
        upstream.enqueue({ holdAfterChunks: 1 });
        const holding = post(weighted, 'w');
        await upstream.waitForHold();
        const waiting = [post(weighted, 'w'), post(weighted, 'w'), post(weighted, 'w')];
        await new Promise((resolve) => setTimeout(resolve, 150));
        waiting.push(post(plain.key, 'p'), post(plain.key, 'p'));
        await new Promise((resolve) => setTimeout(resolve, 150));
        upstream.release();
        expect((await Promise.all([holding, ...waiting])).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
        return upstream.requests
          .slice(seen)
          .filter((r) => r.path === '/api/chat')
          .map((r) => (r.body as { messages: { content: string }[] }).messages[0]!.content)
          .join('');
      };
      expect((await gateway.admin(`/api/upstreams/${server!.id}`, json('PATCH', { max_parallel: 1 }))).status).toBe(200);
      try {
        expect(await slotOrder()).toBe('wpwpww');
        expect((await gateway.admin(`/api/api-keys/${id}`, json('PATCH', { queue_weight: 2 }))).status).toBe(200);
        expect(await slotOrder()).toBe('wpwwpw');
      } finally {
        await gateway.admin(`/api/upstreams/${server!.id}`, json('PATCH', { max_parallel: server!.max_parallel }));
      }
    });

    it('refuses an unknown model in the allow-list of a new key too', async () => {
      const response = await gateway.admin('/api/api-keys', json('POST', { name: 'typo', allowed_models: ['lama3.2'] }));
      expect(response.status).toBe(400);
      expect(await errorText(response)).toContain("'lama3.2'");
    });

    it.each([
      [{ daily_token_limit: -1 }, 'daily_token_limit must not be less than 0'],
      [{ monthly_request_limit: 'lots' }, 'monthly_request_limit'],
      [{ daily_request_limit: 1.5 }, 'daily_request_limit must be an integer'],
      [{ weekly_token_limit: 5 }, 'property weekly_token_limit should not exist'],
    ])('PATCH quota %j → 400 naming the field', async (body, message) => {
      const { id } = await createKey();
      const response = await gateway.admin(`/api/api-keys/${id}/quota`, json('PATCH', body));
      expect(response.status).toBe(400);
      expect(await errorText(response)).toContain(message);
    });

    it('PATCH quota changes limits and answers the key with usage', async () => {
      const { id } = await createKey({ name: 'limits', daily_token_limit: 1000 });
      const response = await gateway.admin(`/api/api-keys/${id}/quota`, json('PATCH', { daily_token_limit: 5000, monthly_request_limit: 100 }));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id, daily_token_limit: 5000, monthly_request_limit: 100, usage: { day: { tokens: 0 } } });
    });

    it('rotates: a new secret, the old one refused at once, id, limits and usage kept', async () => {
      const { id, key: oldKey } = await createKey({ name: 'rotating', daily_request_limit: 10 });
      expect((await chat(oldKey)).status).toBe(200);
      await eventually(async () => {
        const listed = (await (await gateway.admin('/api/api-keys')).json()) as KeyWithUsage[];
        expect(listed.find((k) => k.id === id)!.usage.day.requests).toBe(1);
      });

      const response = await gateway.admin(`/api/api-keys/${id}/rotate`, { method: 'POST' });
      expect(response.status).toBe(200);
      const rotated = (await response.json()) as KeyWithUsage & { key: string };
      secrets.push(rotated.key);
      expect(rotated.key).toMatch(/^sk-[0-9A-Za-z]{43}$/);
      expect(rotated.key).not.toBe(oldKey);
      expect(rotated).toMatchObject({ id, name: 'rotating', daily_request_limit: 10, key_prefix: rotated.key.slice(0, 9), usage: { day: { requests: 1, request_limit: 10 } } });

      expect((await chat(oldKey)).status).toBe(401);
      expect((await chat(rotated.key)).status).toBe(200);
      await eventually(async () => {
        const listed = (await (await gateway.admin('/api/api-keys')).json()) as KeyWithUsage[];
        expect(listed.find((k) => k.id === id)!.usage.day.requests).toBe(2);
      });
      expect((await gateway.admin('/api/api-keys/999999/rotate', { method: 'POST' })).status).toBe(404);
    });
  });

  describe('Ollama, settings and proxy info', () => {
    it('lists Ollama\'s models', async () => {
      const response = await gateway.admin('/api/ollama-models');
      expect(response.status).toBe(200);
      const { models } = (await response.json()) as { models: { name: string }[] };
      expect(models.map((m) => m.name)).toEqual(expect.arrayContaining(['llama3.2:latest', 'qwen3:4b']));
    });

    it('answers the settings', async () => {
      expect(await (await gateway.admin('/api/settings')).json()).toEqual({ ollama_url: upstream.url, default_model: null, model_aliases: {}, num_ctx: 65536, ...POLICY_DEFAULTS });
    });

    it('saves settings after checking that Ollama answers, and reports its version', async () => {
      const response = await gateway.admin(
        '/api/settings',
        json('PUT', { default_model: 'qwen3:4b', model_aliases: { 'claude-*': 'qwen3:4b', 'gpt-4*': 'llama3.2' }, num_ctx: 32768 }),
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        settings: { ollama_url: upstream.url, default_model: 'qwen3:4b', model_aliases: { 'claude-*': 'qwen3:4b', 'gpt-4*': 'llama3.2' }, num_ctx: 32768, ...POLICY_DEFAULTS },
        ollama: { reachable: true, version: FAKE_OLLAMA_VERSION },
      });
      expect(await (await gateway.admin('/api/settings')).json()).toMatchObject({ default_model: 'qwen3:4b', num_ctx: 32768 });

      const same = await gateway.admin('/api/settings', json('PUT', { ollama_url: `${upstream.url}/` }));
      expect(await same.json()).toMatchObject({ settings: { ollama_url: upstream.url }, ollama: { reachable: true } });
    });

    it('refuses a default model or alias target Ollama does not have, unless the admin insists; saved ones are not asked again', async () => {
      const before = await (await gateway.admin('/api/settings')).json();
      const typo = await gateway.admin('/api/settings', json('PUT', { model_aliases: { 'claude-*haiku*': 'qwen3:4bb', 'gpt-4*': 'llama3.2' }, num_ctx: 8192 }));
      expect(typo.status).toBe(400);
      const body = (await typo.json()) as { message: string; unknown_models: string[] };
      expect(body.message).toBe(
        "model_aliases['claude-*haiku*']: Ollama has no model 'qwen3:4bb' (it has: llama3.2:latest, nomic-embed-text:latest, qwen3:4b); nothing was saved (send \"save_unknown_models\": true to save it anyway)",
      );
      expect(body.unknown_models).toEqual(['qwen3:4bb']);
      const missingDefault = await gateway.admin('/api/settings', json('PUT', { default_model: 'mistral' }));
      expect(missingDefault.status).toBe(400);
      expect(((await missingDefault.json()) as { message: string }).message).toMatch(/^default_model: Ollama has no model 'mistral'/);
      // Nothing of either refused save was kept.
      expect(await (await gateway.admin('/api/settings')).json()).toEqual(before);

      // "Save anyway": a model about to be pulled.
      const insisted = await gateway.admin('/api/settings', json('PUT', { model_aliases: { 'claude-*haiku*': 'qwen3:4bb' }, save_unknown_models: true }));
      expect(insisted.status).toBe(200);
      // A later save that leaves that alias as it is is not refused for it.
      const later = await gateway.admin('/api/settings', json('PUT', { model_aliases: { 'claude-*haiku*': 'qwen3:4bb', 'gpt-4*': 'llama3.2' }, num_ctx: 16384 }));
      expect(later.status).toBe(200);
      await gateway.admin('/api/settings', json('PUT', { model_aliases: (before as { model_aliases: object }).model_aliases, num_ctx: (before as { num_ctx: number }).num_ctx }));
    });

    it.each([
      [{ num_ctx: 100 }, 'num_ctx must not be less than 512'],
      [{ num_ctx: 2_000_000 }, 'num_ctx must not be greater than 1048576'],
      [{ num_ctx: '4096' }, 'num_ctx must be an integer'],
      [{ ollama_url: 'localhost:11434' }, 'ollama_url must be an http(s) URL'],
      [{ ollama_url: null }, 'ollama_url must be an http(s) URL'],
      [{ model_aliases: ['qwen3:4b'] }, 'model_aliases must be an object'],
      [{ model_aliases: { 'claude-*': 42 } }, 'model_aliases must be an object'],
      [{ default_model: '' }, 'default_model should not be empty'],
      [{ save_unreachable: 'yes' }, 'save_unreachable must be a boolean'],
      [{ save_unknown_models: 1 }, 'save_unknown_models must be a boolean'],
      [{ keep_alive_min_s: 0 }, 'keep_alive_min_s must not be less than 1'],
      [{ keep_alive_max_s: 100_000 }, 'keep_alive_max_s must not be greater than 86400'],
      [{ keep_alive_min_s: 2000 }, 'keep_alive_min_s (2000) must not exceed keep_alive_max_s (1800)'],
      [{ max_num_ctx: 100 }, 'max_num_ctx must not be less than 512'],
      [{ allow_cloud_models: 'yes' }, 'allow_cloud_models must be a boolean'],
      [{ allow_load_options: null }, 'allow_load_options must be a boolean'],
      [{ theme: 'dark' }, 'property theme should not exist'],
    ])('PUT %j → 400 naming the field, nothing saved', async (body, message) => {
      const before = await (await gateway.admin('/api/settings')).json();
      const response = await gateway.admin('/api/settings', json('PUT', body));
      expect(response.status).toBe(400);
      expect(await errorText(response)).toContain(message);
      expect(await (await gateway.admin('/api/settings')).json()).toEqual(before);
    });

    it('does not save an Ollama URL that does not answer unless told to, then reports it unreachable', async () => {
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const refused = await gateway.admin('/api/settings', json('PUT', { ollama_url: dead, num_ctx: 4096 }));
      expect(refused.status).toBe(400);
      const body = (await refused.json()) as { message: string; ollama: { reachable: boolean; error: string } };
      expect(body.message).toMatch(/^ollama_url: Ollama at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\); nothing was saved/);
      expect(body.ollama).toEqual({ reachable: false, error: expect.stringContaining('ECONNREFUSED') });
      expect(await (await gateway.admin('/api/settings')).json()).toMatchObject({ ollama_url: upstream.url, num_ctx: 32768 });

      const saved = await gateway.admin('/api/settings', json('PUT', { ollama_url: dead, save_unreachable: true }));
      expect(saved.status).toBe(200);
      expect(await saved.json()).toMatchObject({ settings: { ollama_url: dead }, ollama: { reachable: false, error: expect.stringContaining('unreachable') } });

      try {
        const models = await gateway.admin('/api/ollama-models');
        expect(models.status).toBe(502);
        expect(await errorText(models)).toContain(`Ollama at ${dead} is unreachable`);

        const { id } = await createKey({ name: 'while-ollama-is-down' });
        const patched = await gateway.admin(`/api/api-keys/${id}`, json('PATCH', { allowed_models: ['llama3.2'] }));
        expect(patched.status).toBe(502);
        expect(await errorText(patched)).toContain('allowed_models cannot be checked: Ollama at');

        // Other fields save while the current URL is down; the answer says Ollama is unreachable.
        const other = await gateway.admin('/api/settings', json('PUT', { num_ctx: 8192 }));
        expect(other.status).toBe(200);
        expect(await other.json()).toMatchObject({ settings: { num_ctx: 8192 }, ollama: { reachable: false } });
      } finally {
        const restored = await gateway.admin('/api/settings', json('PUT', { ollama_url: upstream.url }));
        expect(await restored.json()).toMatchObject({ settings: { ollama_url: upstream.url }, ollama: { reachable: true } });
      }
    });

    it('answers the proxy\'s base URLs for clients', async () => {
      const response = await gateway.admin('/api/proxy-info');
      expect(await response.json()).toEqual({
        proxy_url: gateway.proxyUrl,
        ollama_base_url: gateway.proxyUrl,
        openai_base_url: `${gateway.proxyUrl}/v1`,
        anthropic_base_url: gateway.proxyUrl,
        admin_url: gateway.adminUrl,
      });
    });
  });

  describe('usage', () => {
    it('shows proxied requests in today\'s local bucket, per key and model, and as CSV', async () => {
      const { id, key } = await createKey({ name: 'usage, "quoted"' });
      for (let i = 0; i < 3; i++) expect((await chat(key)).status).toBe(200);
      const today = berlinDate(new Date());

      const report = await eventually(async () => {
        const response = await gateway.admin(`/api/usage?key_id=${id}`);
        expect(response.status).toBe(200);
        const body = (await response.json()) as UsageReport;
        expect(body.series).toHaveLength(1);
        expect(body.series[0]!.requests).toBe(3);
        return body;
      });
      expect(report).toMatchObject({ time_zone: 'Europe/Berlin', granularity: 'day', to: today });
      expect((Date.parse(report.to) - Date.parse(report.from)) / 86_400_000).toBe(29);
      const point = report.series[0]!;
      expect(point).toEqual({
        bucket: expect.stringMatching(new RegExp(`^${today}T00:00:00\\+0[12]:00$`)),
        key_id: id,
        key_name: 'usage, "quoted"',
        model: 'llama3.2:latest', // the rollup records the model Ollama answered with
        requests: 3,
        prompt_tokens: expect.any(Number),
        completion_tokens: expect.any(Number),
        estimated_requests: 0,
        failed_requests: 0,
      });
      expect(point.completion_tokens).toBeGreaterThan(0);
      expect(report.totals).toEqual({ requests: 3, prompt_tokens: point.prompt_tokens, completion_tokens: point.completion_tokens });

      const everyone = (await (await gateway.admin(`/api/usage?from=${today}&to=${today}`)).json()) as UsageReport;
      expect(everyone.series.length).toBeGreaterThan(1);
      expect(everyone.totals.requests).toBe(everyone.series.reduce((sum, p) => sum + p.requests, 0));
      const byModel = (await (await gateway.admin(`/api/usage?model=qwen3:4b`)).json()) as UsageReport;
      expect(byModel.series).toEqual([]);

      const hourly = (await (await gateway.admin(`/api/usage?granularity=hour&key_id=${id}&from=${today}&to=${today}`)).json()) as UsageReport;
      expect(hourly.granularity).toBe('hour');
      expect(hourly.series.reduce((sum, p) => sum + p.requests, 0)).toBe(3);
      for (const p of hourly.series) expect(p.bucket).toMatch(/T\d\d:00:00\+0[12]:00$/);

      const csv = await gateway.admin(`/api/usage.csv?key_id=${id}`);
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="usage-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d-day\.csv"$/);
      const lines = (await csv.text()).split('\r\n');
      expect(lines[0]).toBe('bucket,key_id,key_name,model,requests,prompt_tokens,completion_tokens,estimated_requests,failed_requests');
      expect(lines[1]).toBe(`${point.bucket},${id},"usage, ""quoted""",llama3.2:latest,3,${point.prompt_tokens},${point.completion_tokens},0,0`);
      expect(lines.slice(2)).toEqual(['']);
    });

    it.each([
      ['from=2026-02-30', 'from must be a real date'],
      ['to=26-01-01', 'to must be a date YYYY-MM-DD'],
      ['from=2026-05-02&to=2026-05-01', 'from must not be after to'],
      ['from=2025-01-01&to=2026-01-02', 'must not exceed 366 days'],
      ['granularity=week', 'granularity must be one of the following values: day, hour'],
      ['key_id=abc', 'key_id must be an integer'],
      ['colour=blue', 'property colour should not exist'],
    ])('GET /api/usage?%s → 400 naming the problem', async (query, message) => {
      for (const path of ['/api/usage', '/api/usage.csv']) {
        const response = await gateway.admin(`${path}?${query}`);
        expect(response.status).toBe(400);
        expect(await errorText(response)).toContain(message);
      }
    });

    it('accepts a range of exactly 366 days', async () => {
      const response = await gateway.admin('/api/usage?from=2024-01-01&to=2024-12-31');
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ from: '2024-01-01', to: '2024-12-31', series: [], totals: { requests: 0 } });
    });
  });

  describe('audit log', () => {
    it('records every admin write with old and new values, newest first, and never a secret', async () => {
      const { id, key } = await createKey({ name: 'audited', daily_token_limit: 1000 });
      await gateway.admin(`/api/api-keys/${id}/quota`, json('PATCH', { daily_token_limit: 2000, monthly_request_limit: 50 }));
      await gateway.admin(`/api/api-keys/${id}`, json('PATCH', { name: 'audited-renamed', max_concurrent: 2 }));
      const rotated = (await (await gateway.admin(`/api/api-keys/${id}/rotate`, { method: 'POST' })).json()) as { key: string; key_prefix: string };
      secrets.push(rotated.key);
      await gateway.admin(`/api/api-keys/${id}/deactivate`, { method: 'PUT' });
      await gateway.admin(`/api/api-keys/${id}/activate`, { method: 'PUT' });
      await gateway.admin('/api/settings', json('PUT', { num_ctx: 16384 }));
      await gateway.admin(`/api/api-keys/${id}`, { method: 'DELETE' });

      const rows = await audit('?limit=1000');
      expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((a, b) => b - a));
      const forKey = rows.filter((r) => r.target_type === 'api_key' && r.target_id === String(id)).reverse();
      expect(forKey.map((r) => r.action)).toEqual(['key.create', 'key.quota', 'key.update', 'key.rotate', 'key.deactivate', 'key.activate', 'key.delete']);
      const [create, quota, update, rotate, deactivate, , remove] = forKey;
      expect(create!.changes).toMatchObject({ name: { old: null, new: 'audited' }, daily_token_limit: { old: null, new: 1000 }, is_active: { old: null, new: true } });
      expect(quota!.changes).toEqual({ daily_token_limit: { old: 1000, new: 2000 }, monthly_request_limit: { old: null, new: 50 } });
      expect(update).toMatchObject({ target_name: 'audited-renamed', changes: { name: { old: 'audited', new: 'audited-renamed' }, max_concurrent: { old: null, new: 2 } } });
      expect(rotate!.changes).toEqual({ key_prefix: { old: key.slice(0, 9), new: rotated.key_prefix } });
      expect(deactivate!.changes).toEqual({ is_active: { old: true, new: false } });
      expect(remove!.changes).toMatchObject({ name: { old: 'audited-renamed', new: null }, daily_token_limit: { old: 2000, new: null } });
      expect(Date.parse(remove!.at)).toBeGreaterThan(Date.now() - 60_000);

      const settings = rows.find((r) => r.action === 'settings.update')!;
      expect(settings).toMatchObject({ target_type: 'settings', changes: { num_ctx: { old: 8192, new: 16384 } } });
      expect(rows.find((r) => r.action === 'settings.update' && r.changes?.ollama_url)).toBeDefined();
      expect(rows.filter((r) => r.action === 'login.success')).toHaveLength(1);
      expect(rows.find((r) => r.action === 'login.failure')).toMatchObject({ target_type: 'admin_session', changes: { client_address: { old: null, new: expect.stringContaining('127.0.0.1') } } });
      expect(rows.find((r) => r.action === 'logout')).toBeDefined();

      const everything = JSON.stringify(rows);
      for (const secret of secrets) expect(everything).not.toContain(secret);
      const hashes = await gateway.shared.sql.all<{ key_hash: string }>('SELECT key_hash FROM api_keys');
      for (const { key_hash } of hashes) expect(everything).not.toContain(key_hash);
      expect(everything).not.toContain('password');
    });

    it('pages with limit and before_id', async () => {
      const all = await audit('?limit=1000');
      const first = await audit('?limit=2');
      expect(first).toEqual(all.slice(0, 2));
      const next = await audit(`?limit=2&before_id=${first[1]!.id}`);
      expect(next).toEqual(all.slice(2, 4));
      for (const query of ['?limit=0', '?limit=1001', '?before_id=x', '?offset=3']) expect((await gateway.admin(`/api/audit${query}`)).status).toBe(400);
    });
  });

  it('throttles failed logins per address: the 11th attempt within a minute is refused with 429 and Retry-After', async () => {
    await forgetFailedLogins();
    // A second gateway on the same database: the throttle lives in the database, so both count the
    // same failures. Replicas share PostgreSQL only; a SQLite file has one gateway process (a second
    // one refuses to start: test/attacks/sqlite-owner.e2e-spec.ts), which plays both parts there.
    const second = database.name === 'postgres' ? await startTestGateway(databaseUrl, upstream.url) : gateway;
    try {
      const login = (password: string) =>
        fetch(`${second.adminUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) });
      const failuresBefore = (await audit('?limit=1000')).filter((r) => r.action === 'login.failure').length;
      for (let i = 1; i <= 10; i++) expect([i, (await login(`guess-${i}`)).status]).toEqual([i, 401]);
      const refused = await login('guess-11');
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(await errorText(refused)).toContain('too many failed logins');
      // Even the right password waits, at login and as a Bearer, on either gateway: otherwise the
      // throttle would not stop the guessing.
      expect((await login(ADMIN_PASSWORD)).status).toBe(429);
      expect((await second.admin('/api/api-keys')).status).toBe(429);
      expect((await call('/api/login', undefined, json('POST', { password: ADMIN_PASSWORD }))).status).toBe(429);
      await forgetFailedLogins();
      const failuresAfter = (await audit('?limit=1000')).filter((r) => r.action === 'login.failure').length;
      expect(failuresAfter - failuresBefore).toBe(10);
    } finally {
      if (second !== gateway) await second.close();
    }
  });
});

describe('admin writes at the same time', () => {
  it.each(databases)('creates 20 keys concurrently on $name without a failed transaction', async (database) => {
    const upstream = await startFakeOllama();
    const gateway = await startTestGateway(await database.create(), upstream.url);
    try {
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => gateway.admin('/api/api-keys', { method: 'POST', body: JSON.stringify({ name: `parallel-${i}` }) })),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
      const keys = (await (await gateway.admin('/api/api-keys')).json()) as { name: string }[];
      expect(keys.filter((k) => k.name.startsWith('parallel-'))).toHaveLength(20);
    } finally {
      await gateway.close();
      await upstream.close();
      await database.dropAll();
    }
  });
});
