/**
 * Alerts (issue 16, item 7) on every test database: webhooks managed in the admin API, a local
 * receiver that checks each body's HMAC signature and timestamp, a key's 80 % and 100 % of its daily
 * request limit (once each), a key expiring within 7 days, an upstream killed and restarted, retries
 * with backoff, the Slack and Teams formats, viewers kept out, and the secret nowhere to be read.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertDeliveryView, AlertWebhookView, AuditEntry } from '@llmproxy/api-types';
import { Alerts1765300000000 } from '../libs/persistence/src/migrations/1765300000000-alerts.js';
import { startFakeOllama, type FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { eventually, startTestGateway, type TestGateway } from './support/gateway.js';

const databases = await testDatabases();
const SECRET = 'whsec-alerts-e2e-0123456789';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
  /** The signature matched the secret (for paths with one) and the timestamp is within 5 minutes. */
  verified: boolean;
}

/** A webhook receiver: records every POST, answers each path's scripted statuses first (then 200). */
async function startReceiver(): Promise<{ url: string; received: Received[]; script: Map<string, number[]>; close(): Promise<void> }> {
  const received: Received[] = [];
  const script = new Map<string, number[]>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(request.headers['x-llmproxy-timestamp'] ?? '');
      const given = String(request.headers['x-llmproxy-signature'] ?? '');
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')}`;
      const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
      const verified = fresh && given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
      received.push({ path: request.url ?? '', headers: request.headers, raw, body: JSON.parse(raw) as Record<string, unknown>, verified });
      const status = script.get(request.url ?? '')?.shift() ?? 200;
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    script,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe.each(databases)('alerts on $name', (database) => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let databaseUrl: string;
  const env = { ALERT_CHECK_S: '1', ALERT_RETRY_BASE_MS: '200', UPSTREAM_POLL_S: '1' };
  /** Every answer of the admin API the tests read, to look for the secret in. */
  const answers: string[] = [];

  beforeAll(async () => {
    upstream = await startFakeOllama();
    receiver = await startReceiver();
    databaseUrl = await database.create();
    gateway = await startTestGateway(databaseUrl, upstream.url, env);
  });

  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
    await receiver?.close();
    await database.dropAll();
  });

  const call = async (path: string, init: RequestInit = {}, token?: string) => {
    const response = await gateway.admin(path, token ? { ...init, headers: { authorization: `Bearer ${token}` } } : init);
    const text = await response.text();
    answers.push(text);
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  const post = (path: string, body: unknown, token?: string) => call(path, { method: 'POST', body: JSON.stringify(body) }, token);
  const at = (path: string) => receiver.received.filter((r) => r.path === path);
  const deliveries = async (webhookId: number) => (await call(`/api/alerts/deliveries?webhook_id=${webhookId}`)).body as AlertDeliveryView[];
  const chat = (key: string) =>
    fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'a secret prompt' }], stream: false }) });

  let main: AlertWebhookView;

  it('creates a webhook whose secret is never answered back', async () => {
    const created = await post('/api/alerts/webhooks', { name: 'ops', url: `${receiver.url}/main`, secret: SECRET, format: 'json', events: ['key.quota_80', 'key.quota_100', 'key.expiring', 'upstream.down', 'upstream.up', 'database.error', 'database.recovered'] });
    expect(created.status).toBe(201);
    main = created.body as AlertWebhookView;
    expect(main).toMatchObject({ name: 'ops', format: 'json', enabled: true, has_secret: true });
    expect(main).not.toHaveProperty('secret');
    const list = (await call('/api/alerts/webhooks')).body as AlertWebhookView[];
    expect(list.map((w) => w.id)).toEqual([main.id]);
    const bad = await post('/api/alerts/webhooks', { name: 'x', url: 'ftp://example.com', events: ['nope'] });
    expect(bad.status).toBe(400);
  });

  it('alerts at 80 % and at 100 % of a daily request limit once each, signed, with the key’s name but no key or prompt', async () => {
    const { key, id } = await gateway.createKey({ name: 'limited', daily_request_limit: 5 });
    for (let i = 0; i < 4; i++) expect((await chat(key)).status).toBe(200);
    const quota = (event: string) => at('/main').filter((r) => r.body.event === event && r.body.key_id === id);
    const first = await eventually(() => {
      const found = quota('key.quota_80');
      if (found.length === 0) throw new Error('no 80 % alert yet');
      return found[0]!;
    }, 10_000);
    expect(quota('key.quota_100')).toHaveLength(0);
    expect(first.verified).toBe(true);
    expect(first.body).toMatchObject({ event: 'key.quota_80', key_id: id, key_name: 'limited', limit: 'daily_requests', threshold: 80, used: 4, limit_value: 5 });
    expect(typeof first.body.at).toBe('string');
    expect(first.raw).not.toContain(key);
    expect(first.raw).not.toContain('secret prompt');
    expect((await chat(key)).status).toBe(200);
    await eventually(() => expect(quota('key.quota_100')).toHaveLength(1), 10_000);
    expect((await chat(key)).status).toBe(429);
    // Several checks later: nothing again.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(quota('key.quota_80')).toHaveLength(1);
    expect(quota('key.quota_100')).toHaveLength(1);
    expect(quota('key.quota_100')[0]!.verified).toBe(true);
    const shown = await deliveries(main.id);
    expect(shown.filter((d) => d.event === 'key.quota_100').map((d) => [d.status, d.attempts])).toEqual([['delivered', 1]]);
  });

  it('tells of a key expiring within 7 days, once', async () => {
    const expires = new Date(Date.now() + 3 * 86_400_000);
    const { id } = await gateway.createKey({ name: 'expiring', expires_at: expires.toISOString() });
    const expiring = () => at('/main').filter((r) => r.body.event === 'key.expiring' && r.body.key_id === id);
    await eventually(() => expect(expiring()).toHaveLength(1), 10_000);
    expect(expiring()[0]!.body).toMatchObject({ key_name: 'expiring', expires_at: expires.toISOString() });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(expiring()).toHaveLength(1);
  });

  it('tells of an upstream going down and coming back, once each', async () => {
    let extra = await startFakeOllama();
    const port = Number(new URL(extra.url).port);
    const created = await post('/api/upstreams', { name: 'gpu-x', url: extra.url });
    expect(created.status).toBe(201);
    const upstreamId = (created.body as { id: number }).id;
    try {
      const events = (event: string) => at('/main').filter((r) => r.body.event === event && r.body.upstream === 'gpu-x');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(events('upstream.up')).toHaveLength(0); // never down: nothing to tell
      await extra.close();
      const down = await eventually(() => {
        const found = events('upstream.down');
        if (found.length === 0) throw new Error('no down alert yet');
        return found;
      }, 15_000);
      expect(down).toHaveLength(1);
      expect(down[0]!.verified).toBe(true);
      expect(down[0]!.body).toMatchObject({ upstream_id: upstreamId });
      extra = await startFakeOllama({ port });
      await eventually(() => expect(events('upstream.up')).toHaveLength(1), 15_000);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(events('upstream.down')).toHaveLength(1);
      expect(events('upstream.up')).toHaveLength(1);
    } finally {
      expect((await call(`/api/upstreams/${upstreamId}`, { method: 'DELETE' })).status).toBe(204);
      await extra.close();
    }
  });

  it('retries with backoff: a receiver failing twice, then answering 200, shows 3 attempts and success', async () => {
    const created = await post('/api/alerts/webhooks', { name: 'flaky', url: `${receiver.url}/flaky`, secret: SECRET, events: ['upstream.down'] });
    const flaky = created.body as AlertWebhookView;
    receiver.script.set('/flaky', [500, 503]);
    const test = await post(`/api/alerts/webhooks/${flaky.id}/test`, {});
    expect(test.status).toBe(202);
    expect(test.body).toMatchObject({ webhook_id: flaky.id, event: 'test' });
    const delivery = await eventually(async () => {
      const [latest] = await deliveries(flaky.id);
      expect(latest?.status).toBe('delivered');
      return latest!;
    }, 10_000);
    expect(delivery).toMatchObject({ attempts: 3, last_status: 200, last_error: 'HTTP 503 Service Unavailable', next_attempt_at: null });
    const hits = at('/flaky');
    expect(hits).toHaveLength(3);
    expect(hits.every((hit) => hit.verified)).toBe(true);
    // Backoff: the second retry waited about twice as long as the first.
    const times = hits.map((hit) => Number(hit.headers['x-llmproxy-timestamp']));
    expect(times[2]! - times[0]!).toBeLessThanOrEqual(5);
  });

  it('gives up after 5 attempts and says why', async () => {
    const created = await post('/api/alerts/webhooks', { name: 'dead', url: `${receiver.url}/dead`, events: ['test'] });
    const dead = created.body as AlertWebhookView;
    receiver.script.set('/dead', [500, 500, 500, 500, 500, 500]);
    await post(`/api/alerts/webhooks/${dead.id}/test`, {});
    const delivery = await eventually(async () => {
      const [latest] = await deliveries(dead.id);
      expect(latest?.status).toBe('failed');
      return latest!;
    }, 15_000);
    expect(delivery).toMatchObject({ attempts: 5, last_status: 500, last_error: 'HTTP 500 Internal Server Error' });
    expect(at('/dead')[0]!.headers['x-llmproxy-signature']).toBeUndefined(); // no secret, no signature
    // A receiver that does not listen: the network error's code.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const refused = (await post('/api/alerts/webhooks', { name: 'nobody', url: `http://127.0.0.1:${port}/hook`, events: ['test'] })).body as AlertWebhookView;
    await post(`/api/alerts/webhooks/${refused.id}/test`, {});
    await eventually(async () => expect((await deliveries(refused.id))[0]).toMatchObject({ last_error: 'fetch failed: ECONNREFUSED', last_status: null }));
    expect((await call(`/api/alerts/webhooks/${refused.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('writes Slack and Teams bodies', async () => {
    const slack = (await post('/api/alerts/webhooks', { name: 'slack', url: `${receiver.url}/slack`, secret: SECRET, format: 'slack', events: ['test'] })).body as AlertWebhookView;
    const teams = (await post('/api/alerts/webhooks', { name: 'teams', url: `${receiver.url}/teams`, secret: SECRET, format: 'teams', events: ['test'] })).body as AlertWebhookView;
    await post(`/api/alerts/webhooks/${slack.id}/test`, {});
    await post(`/api/alerts/webhooks/${teams.id}/test`, {});
    const [s] = await eventually(() => {
      const found = at('/slack');
      if (found.length === 0) throw new Error('not yet');
      return found;
    });
    expect(s!.verified).toBe(true);
    expect(s!.body.text).toEqual(expect.stringContaining('llmproxy: Test alert'));
    const blocks = s!.body.blocks as { type: string }[];
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    const [t] = await eventually(() => {
      const found = at('/teams');
      if (found.length === 0) throw new Error('not yet');
      return found;
    });
    expect(t!.verified).toBe(true);
    expect(t!.body.type).toBe('message');
    const attachments = t!.body.attachments as { contentType: string; content: { type: string; version: string; body: { type: string; text?: string }[] } }[];
    expect(attachments).toHaveLength(1);
    expect(attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(attachments[0]!.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(attachments[0]!.content.body[0]).toMatchObject({ type: 'TextBlock', text: 'llmproxy: Test alert' });
  });

  it('keeps viewers to reading', async () => {
    expect((await post('/api/accounts', { username: 'alert-viewer', role: 'viewer', password: 'viewer-password-0123' })).status).toBe(201);
    const login = await fetch(`${gateway.adminUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alert-viewer', password: 'viewer-password-0123' }) });
    const { token } = (await login.json()) as { token: string };
    expect((await post('/api/alerts/webhooks', { name: 'v', url: `${receiver.url}/v`, events: ['test'] }, token)).status).toBe(403);
    expect((await call(`/api/alerts/webhooks/${main.id}`, { method: 'PATCH', body: JSON.stringify({ enabled: false }) }, token)).status).toBe(403);
    expect((await call(`/api/alerts/webhooks/${main.id}`, { method: 'DELETE' }, token)).status).toBe(403);
    expect((await post(`/api/alerts/webhooks/${main.id}/test`, {}, token)).status).toBe(403);
    expect((await call('/api/alerts/webhooks', {}, token)).status).toBe(200);
    expect((await call('/api/alerts/deliveries', {}, token)).status).toBe(200);
    // A Slack or Teams URL is itself a credential (its path): a viewer sees where it goes, not the URL.
    const seen = (await call('/api/alerts/webhooks', {}, token)).body as { id: number; url: string }[];
    const own = seen.find((webhook) => webhook.id === main.id)!;
    expect(own.url).toBe(`${new URL(receiver.url).origin}/…`);
    const asAdmin = (await call('/api/alerts/webhooks', {})).body as { id: number; url: string }[];
    expect(asAdmin.find((webhook) => webhook.id === main.id)!.url).toBe(`${receiver.url}/main`);
  });

  it('sends nothing again after a restart; on PostgreSQL two replicas send an upstream’s transition once', async () => {
    const before = at('/main').length;
    await gateway.close();
    gateway = await startTestGateway(databaseUrl, upstream.url, env);
    const replica = database.name === 'postgres' ? await startTestGateway(databaseUrl, upstream.url, env) : undefined;
    let extra: FakeOllama | undefined;
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      // The keys are still at their limits and still expiring: their alerts went already.
      expect(at('/main').slice(before).map((r) => r.body.event)).toEqual([]);
      if (!replica) return;
      extra = await startFakeOllama();
      const created = await post('/api/upstreams', { name: 'gpu-shared', url: extra.url });
      const upstreamId = (created.body as { id: number }).id;
      const seenUp = async (g: TestGateway) => {
        const list = (await (await g.admin('/api/upstreams')).json()) as { id: number; status: { health: string } }[];
        expect(list.find((u) => u.id === upstreamId)?.status.health).toBe('up');
      };
      await eventually(() => Promise.all([seenUp(gateway), seenUp(replica)]), 10_000);
      await extra.close();
      const down = () => at('/main').filter((r) => r.body.event === 'upstream.down' && r.body.upstream === 'gpu-shared');
      await eventually(() => expect(down()).toHaveLength(1), 15_000);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(down()).toHaveLength(1);
      expect((await call(`/api/upstreams/${upstreamId}`, { method: 'DELETE' })).status).toBe(204);
    } finally {
      await replica?.close();
      await extra?.close();
    }
  });

  it('changes, audits and deletes webhooks without the secret anywhere', async () => {
    const changed = await call(`/api/alerts/webhooks/${main.id}`, { method: 'PATCH', body: JSON.stringify({ secret: `${SECRET}-new`, enabled: false }) });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ enabled: false, has_secret: true });
    // Disabled: no more alerts, but a test still goes (signed with the new secret).
    expect((await post(`/api/alerts/webhooks/${main.id}/test`, {})).status).toBe(202);
    const tested = await eventually(() => {
      const found = at('/main').filter((r) => r.body.event === 'test');
      if (found.length === 0) throw new Error('no test yet');
      return found[0]!;
    });
    expect(tested.verified).toBe(false); // signed with the new secret, which the receiver does not know
    expect(tested.headers['x-llmproxy-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    const removed = await post('/api/alerts/webhooks', { name: 'gone', url: `${receiver.url}/gone`, secret: SECRET, events: ['test'] });
    const goneId = (removed.body as AlertWebhookView).id;
    expect((await call(`/api/alerts/webhooks/${goneId}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`/api/alerts/webhooks/${goneId}`, { method: 'DELETE' })).status).toBe(404);
    const audit = (await call('/api/audit?limit=200')).body as AuditEntry[];
    const rows = audit.filter((row) => row.target_type === 'alert_webhook');
    expect(rows.map((row) => row.action)).toEqual(expect.arrayContaining(['alert_webhook.create', 'alert_webhook.update', 'alert_webhook.delete', 'alert_webhook.test']));
    const update = rows.find((row) => row.action === 'alert_webhook.update' && row.target_id === String(main.id))!;
    expect(update.changes).toMatchObject({ enabled: { old: true, new: false }, secret_changed: { old: null, new: true } });
    // The audit (which viewers read) names where a webhook goes, not its URL's path (a Slack or Teams token).
    const created = rows.find((row) => row.action === 'alert_webhook.create' && row.target_id === String(goneId))!;
    expect((created.changes as Record<string, { new: unknown }>).url!.new).toMatch(new RegExp(`^${new URL(receiver.url).origin}/… #[0-9a-f]{8}$`));
    expect(JSON.stringify(rows)).not.toContain('/gone');
    expect(JSON.stringify(rows)).not.toContain('/main');
    await call('/api/alerts/deliveries?limit=500');
    for (const text of [...answers, ...gateway.appLog]) {
      expect(text).not.toContain(SECRET);
    }
  });

  it('migration 1765300000000 goes down and up again', async () => {
    const runner = gateway.shared.dataSource.createQueryRunner();
    const migration = new Alerts1765300000000();
    try {
      await migration.down(runner);
      for (const table of ['alert_webhooks', 'alert_deliveries', 'alert_sent', 'alert_states']) expect(await runner.hasTable(table)).toBe(false);
      await migration.up(runner);
    } finally {
      await runner.release();
    }
    expect((await post('/api/alerts/webhooks', { name: 'again', url: `${receiver.url}/again`, events: ['test'] })).status).toBe(201);
  });
});
