import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { SqlClient, type Row, type SqlParam } from '@llmproxy/persistence';
import type { QuotaService } from '@llmproxy/quota';
import { formatBody, signature, slackBody, teamsBody, type AlertMessage } from './alert-format.js';
import { AlertService } from './alert-service.js';
import { AlertWatcher } from './alert-watcher.js';

const silent = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
const MESSAGE: AlertMessage = { event: 'upstream.down', at: '2026-12-04T10:00:00.000Z', summary: 'Ollama server "gpu-1" is down.', details: { upstream: 'gpu-1', upstream_id: 3, error: null } };

/** A database that can be switched off: every call throws while `down`. Records what was written. */
class SwitchableSql extends SqlClient {
  readonly dialect = 'sqlite' as const;
  down = false;
  readonly inserted: SqlParam[][] = [];
  constructor(private readonly hooks: Row[]) {
    super();
  }
  private check(): void {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
  }
  async one<T extends Row>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    this.check();
    if (sql.startsWith('INSERT INTO alert_deliveries')) {
      this.inserted.push([...params]);
      return { id: this.inserted.length } as unknown as T;
    }
    return { ok: 1, next: null } as unknown as T;
  }
  async all<T extends Row>(sql: string): Promise<T[]> {
    this.check();
    return (sql.includes('FROM alert_webhooks') ? this.hooks : []) as T[];
  }
  async run(): Promise<number> {
    this.check();
    return 1;
  }
  timestamp(date: Date): SqlParam {
    return date.toISOString();
  }
}

describe('alert formats', () => {
  it('writes the JSON body as {event, at, summary, ...details}', () => {
    expect(JSON.parse(formatBody('json', MESSAGE))).toEqual({ event: 'upstream.down', at: MESSAGE.at, summary: MESSAGE.summary, upstream: 'gpu-1', upstream_id: 3, error: null });
  });

  it('writes a Slack message with a fallback text and blocks (null details left out)', () => {
    const body = slackBody(MESSAGE) as { text: string; blocks: { type: string; fields?: { text: string }[] }[] };
    expect(body.text).toBe('llmproxy: Ollama server down: Ollama server "gpu-1" is down.');
    expect(body.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
    expect(body.blocks[2]!.fields!.map((f) => f.text)).toEqual(['*upstream*\ngpu-1', '*upstream_id*\n3']);
  });

  it('writes a Teams message with one Adaptive Card', () => {
    const body = teamsBody(MESSAGE) as { type: string; attachments: { contentType: string; content: { type: string; body: { type: string }[] } }[] };
    expect(body.type).toBe('message');
    expect(body.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(body.attachments[0]!.content.body.map((b) => b.type)).toEqual(['TextBlock', 'TextBlock', 'FactSet']);
  });

  it('signs the timestamp and the body together', () => {
    const expected = createHmac('sha256', 'secret').update('1700000000.{"a":1}').digest('hex');
    expect(signature('secret', '1700000000', '{"a":1}')).toBe(`sha256=${expected}`);
    expect(signature('secret', '1700000001', '{"a":1}')).not.toBe(`sha256=${expected}`);
  });
});

describe('alerts while the database is out', () => {
  let server: http.Server;
  let url: string;
  const bodies: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      let raw = '';
      request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      request.on('end', () => {
        bodies.push(JSON.parse(raw) as Record<string, unknown>);
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('delivers a database alert from memory at once and records it once the database answers', async () => {
    const sql = new SwitchableSql([{ id: 7, url, secret: null, format: 'json', events: '["database.error","database.recovered"]', enabled: 1 }]);
    const alerts = new AlertService(sql, silent, { retryBaseMs: 50, sweepMs: 60_000 });
    const quota = { writeFailure: undefined, usage: async () => new Map(), windows: () => ({ day: { key: 'd' }, month: { key: 'm' } }) } as unknown as QuotaService;
    const watcher = new AlertWatcher(alerts, sql, quota, silent, 60_000);
    alerts.start(); // reads the webhooks while the database answers
    await new Promise((resolve) => setTimeout(resolve, 50));
    sql.down = true;
    await watcher.check();
    await watcher.check(); // still down: no second alert
    await eventuallyTrue(() => bodies.length === 1);
    expect(bodies[0]).toMatchObject({ event: 'database.error', error: 'connect ECONNREFUSED 127.0.0.1:5432' });
    expect(sql.inserted).toHaveLength(0);
    sql.down = false;
    await watcher.check();
    await eventuallyTrue(() => bodies.length === 2 && sql.inserted.length === 2);
    expect(bodies[1]).toMatchObject({ event: 'database.recovered' });
    // Both written to alert_deliveries as delivered, after one attempt each.
    expect(sql.inserted.map((params) => [params[0], params[1], params[3], params[4]])).toEqual([
      [7, 'database.error', 'delivered', 1],
      [7, 'database.recovered', 'delivered', 1],
    ]);
    await alerts.stop();
    await watcher.stop();
  });
});

async function eventuallyTrue(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
