import { testDatabases } from '../support/databases.js';
import { closeWithFakeOllama, startWithFakeOllama, type TestGateway } from '../support/gateway.js';
import type { FakeOllama } from '../upstream/fake-ollama.js';

/**
 * Key and upstream names must differ (in any letter case): the list, the usage log and the metrics
 * name things by them. An admin double-clicking Create, or two admins (or replicas) at once, sent the
 * same name together: each request checked, found it free and inserted. Eight at once, on each database.
 */

const databases = await testDatabases();
const AT_ONCE = 8;

describe.each(databases)('names created at the same instant ($name)', (database) => {
  let gateway: TestGateway;
  let upstream: FakeOllama;

  beforeAll(async () => {
    ({ gateway, upstream } = await startWithFakeOllama(await database.create()));
  });
  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await database.dropAll();
  });

  const together = (path: string, body: (i: number) => Record<string, unknown>) =>
    Promise.all(Array.from({ length: AT_ONCE }, (_, i) => gateway.admin(path, { method: 'POST', body: JSON.stringify(body(i)) }).then((r) => r.status)));

  it('one key of a name, whatever its letter case: the others answer 409', async () => {
    const statuses = await together('/api/api-keys', (i) => ({ name: i % 2 === 0 ? 'twin' : 'TWIN' }));
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(AT_ONCE - 1);
    const keys = (await (await gateway.admin('/api/api-keys')).json()) as { name: string }[];
    expect(keys.filter((k) => k.name.toLowerCase() === 'twin')).toHaveLength(1);
  });

  it('one key renamed to a name at a time: the others answer 409', async () => {
    const ids = await Promise.all(Array.from({ length: AT_ONCE }, (_, i) => gateway.createKey({ name: `rename-me-${i}` }).then((k) => k.id)));
    const statuses = await Promise.all(ids.map((id) => gateway.admin(`/api/api-keys/${id}`, { method: 'PATCH', body: JSON.stringify({ name: 'renamed-twin' }) }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    const keys = (await (await gateway.admin('/api/api-keys')).json()) as { name: string }[];
    expect(keys.filter((k) => k.name === 'renamed-twin')).toHaveLength(1);
  });

  it('one upstream of a name: the others answer 409', async () => {
    const statuses = await together('/api/upstreams', () => ({ name: 'gpu-twin', url: upstream.url }));
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(AT_ONCE - 1);
    const upstreams = (await (await gateway.admin('/api/upstreams')).json()) as { name: string }[];
    expect(upstreams.filter((u) => u.name === 'gpu-twin')).toHaveLength(1);
  });
});
