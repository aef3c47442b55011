import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { getMetadataStorage } from 'class-validator';
import { OPENAPI_JSON_PATH, OPENAPI_PAGE_PATH } from '../apps/gateway/src/admin/openapi/openapi.js';
import { testDatabases } from './support/databases.js';
import { ADMIN_PASSWORD, closeWithFakeOllama, eventually, startWithFakeOllama, type TestGateway } from './support/gateway.js';
import type { FakeOllama } from './upstream/fake-ollama.js';

// ajv-formats is CommonJS: its default export arrives as the module object under Jest's ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, { content?: Record<string, { schema?: Json }> }>;
  security?: Record<string, string[]>[];
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation> & { servers?: { url: string }[] }>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/** Express's `/api/api-keys/:id` as OpenAPI writes it: `/api/api-keys/{id}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Each object schema with `properties` and no word on others gets `additionalProperties: false`
 * (a copy): an answer with a field the document does not name fails, so answers and document
 * cannot drift apart unnoticed.
 */
function closed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(closed);
  if (typeof value !== 'object' || value === null) return value;
  const copy = Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, closed(inner)])) as Json;
  const isObject = copy.type === 'object' || (Array.isArray(copy.type) && copy.type.includes('object'));
  if (isObject && typeof copy.properties === 'object' && copy.additionalProperties === undefined) {
    copy.additionalProperties = false;
  }
  return copy;
}

const [sqlite] = await testDatabases();

describe('OpenAPI document', () => {
  let upstream: FakeOllama | undefined;
  let gateway: TestGateway;
  let document: Document;
  let ajv: Ajv2020;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await sqlite!.create()));
    const response = await fetch(`${gateway.adminUrl}${OPENAPI_JSON_PATH}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await response.json()) as Document;
    ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
    // The paths' schemas point into components: the whole (closed) document is one schema resource.
    ajv.addSchema({ $id: 'https://llmproxy.invalid/openapi.json', ...(closed(document) as Json) });
  });

  afterAll(() => closeWithFakeOllama({ gateway, upstream }));

  const pointer = (...parts: string[]) => parts.map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
  const operation = (method: string, path: string): Operation => {
    const found = document.paths[path]?.[method.toLowerCase()] as Operation | undefined;
    if (!found) throw new Error(`the document has no ${method} ${path}`);
    return found;
  };

  /**
   * The answer's status is documented for the operation and its JSON body matches the documented
   * schema. Returns the body.
   */
  async function conforms(method: string, path: string, response: Response): Promise<unknown> {
    const documented = operation(method, path).responses[String(response.status)];
    if (!documented) throw new Error(`${method} ${path} answered ${response.status}, which the document does not list`);
    if (response.status === 204) {
      expect(documented.content).toBeUndefined();
      return undefined;
    }
    const type = response.headers.get('content-type')!.split(';')[0]!;
    expect(Object.keys(documented.content ?? {})).toContain(type);
    if (type !== 'application/json') return response.text();
    const body: unknown = await response.json();
    const ref = `https://llmproxy.invalid/openapi.json#/${pointer('paths', path, method.toLowerCase(), 'responses', String(response.status), 'content', type, 'schema')}`;
    const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
    if (!validate(body)) throw new Error(`${method} ${path} ${response.status}: the body does not match its schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
    return body;
  }

  const admin = (method: string, path: string, body?: unknown) => gateway.admin(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('validates as OpenAPI 3', async () => {
    expect(document.openapi).toMatch(/^3\./);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes every route the admin listener has (read from its Express router, not listed by hand)', () => {
    const express = gateway.adminApp.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } };
    const routes = express.router.stack
      .flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((method) => ({ method, path: layer.route!.path })) : []))
      // Not API: the document's own routes, and the admin UI's files (its index.html fallback, or a note when it is not built).
      .filter(({ path }) => path !== OPENAPI_JSON_PATH && !path.startsWith(OPENAPI_PAGE_PATH) && path !== '{*any}' && path !== '/');
    expect(routes.length).toBeGreaterThan(15);
    const undocumented = routes.filter(({ method, path }) => !document.paths[openApiPath(path)]?.[method]).map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect(undocumented).toEqual([]);
    // …and nothing else: each documented admin operation is a route (GET /v1/usage is the proxy's).
    const served = new Set(routes.map(({ method, path }) => `${method} ${openApiPath(path)}`));
    const documented = Object.entries(document.paths)
      .filter(([path]) => path !== '/v1/usage')
      .flatMap(([path, item]) => HTTP_METHODS.filter((method) => item[method]).map((method) => `${method} ${path}`));
    expect(documented.filter((entry) => !served.has(entry))).toEqual([]);
  });

  it('documents the success answer of every operation (a route with no @Api…Response fails here)', () => {
    const bare: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of HTTP_METHODS.filter((m) => item[m])) {
        const success = Object.entries((item[method] as Operation).responses).filter(([status]) => /^2\d\d$/.test(status));
        // @nestjs/swagger gives an undocumented route a bare `200`/`201` with no schema.
        const described = success.some(([status, answer]) => (status === '204' && (answer as { description?: string }).description) || Object.values(answer.content ?? {}).some((media) => media.schema));
        if (!described) bare.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(bare).toEqual([]);
  });

  it('documents GET /v1/usage as served on the proxy port, with the key as credential', () => {
    const item = document.paths['/v1/usage']!;
    expect(item.servers).toEqual([expect.objectContaining({ url: gateway.proxyUrl })]);
    expect(item.get!.security).toEqual(expect.arrayContaining([{ key: [] }, { 'key-header': [] }]));
  });

  it('names the admin bearer scheme on every guarded route and no credential on the public ones', () => {
    expect(document.components.securitySchemes.admin).toMatchObject({ type: 'http', scheme: 'bearer' });
    const publicOnes: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      if (path === '/v1/usage') continue;
      for (const method of HTTP_METHODS.filter((m) => item[m])) {
        const { security, responses } = item[method] as Operation;
        if (security?.length === 0) {
          publicOnes.push(`${method.toUpperCase()} ${path}`);
          continue;
        }
        expect(security).toEqual(expect.arrayContaining([{ admin: [] }]));
        expect(Object.keys(responses)).toEqual(expect.arrayContaining(['401', '429']));
      }
    }
    expect(publicOnes.sort()).toEqual(['GET /healthz', 'GET /readyz', 'POST /api/login']);
  });

  it('puts every operation under one tag', () => {
    for (const item of Object.values(document.paths)) for (const method of HTTP_METHODS.filter((m) => item[m])) expect((item[method] as Operation & { tags?: string[] }).tags).toHaveLength(1);
  });

  it('documents each request body and query exactly as the DTO validates it (no field missing or invented)', () => {
    const byOperationId = new Map<string, Operation>();
    for (const item of Object.values(document.paths)) for (const method of HTTP_METHODS) if (item[method]) byOperationId.set((item[method] as Operation).operationId!, item[method] as Operation);
    let checked = 0;
    for (const module of gateway.adminApp.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as { name: string; prototype: object } | undefined;
        if (!controller?.prototype) continue;
        for (const method of Object.getOwnPropertyNames(controller.prototype)) {
          const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<string, { index: number; data?: unknown }>;
          const types = (Reflect.getMetadata('design:paramtypes', controller.prototype, method) ?? []) as (new () => unknown)[];
          for (const [key, { index, data }] of Object.entries(args)) {
            const kind = Number(key.split(':')[0]);
            if ((kind !== RouteParamtypes.BODY && kind !== RouteParamtypes.QUERY) || data !== undefined) continue;
            const dto = types[index]!;
            const validated = [...new Set(getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false).map((meta) => meta.propertyName))].sort();
            const op = byOperationId.get(`${controller.name}_${method}`);
            expect(op).toBeDefined();
            let documented: string[];
            if (kind === RouteParamtypes.BODY) {
              const ref = op!.requestBody!.content['application/json']!.schema.$ref as string;
              documented = Object.keys(document.components.schemas[ref.split('/').pop()!]!.properties as Json);
            } else {
              documented = (op!.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
            }
            expect({ dto: dto.name, properties: documented.sort() }).toEqual({ dto: dto.name, properties: validated });
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9);
  });

  it('real answers match their documented schemas', async () => {
    const created = (await conforms('POST', '/api/api-keys', await admin('POST', '/api/api-keys', { name: 'openapi', daily_token_limit: 100_000, allowed_models: ['llama3.2'] }))) as { id: number; key: string };
    const keyPath = `/api/api-keys/${created.id}`;
    expect((await fetch(`${gateway.proxyUrl}/api/chat`, { method: 'POST', headers: { 'x-api-key': created.key }, body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: false }) })).status).toBe(200);

    const keys = (await conforms('GET', '/api/api-keys', await admin('GET', '/api/api-keys'))) as unknown[];
    expect(keys.length).toBeGreaterThan(0);
    await conforms('PATCH', '/api/api-keys/{id}', await admin('PATCH', keyPath, { max_concurrent: 2, expires_at: null }));
    await conforms('PATCH', '/api/api-keys/{id}/quota', await admin('PATCH', `${keyPath}/quota`, { monthly_request_limit: 1000 }));
    const rotated = (await conforms('POST', '/api/api-keys/{id}/rotate', await admin('POST', `${keyPath}/rotate`))) as { key: string };
    await conforms('PUT', '/api/api-keys/{id}/deactivate', await admin('PUT', `${keyPath}/deactivate`));
    await conforms('PUT', '/api/api-keys/{id}/activate', await admin('PUT', `${keyPath}/activate`));

    const own = (await conforms('GET', '/v1/usage', await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${rotated.key}` } }))) as { key: { id: number } };
    expect(own.key.id).toBe(created.id);

    await eventually(async () => {
      const report = (await conforms('GET', '/api/usage', await admin('GET', `/api/usage?key_id=${created.id}`))) as { series: unknown[]; upstreams: unknown[] };
      expect(report.series.length).toBe(1);
      expect(report.upstreams.length).toBe(1);
    });
    expect(await conforms('GET', '/api/usage.csv', await admin('GET', '/api/usage.csv'))).toMatch(/^bucket,/);
    await conforms('GET', '/api/settings', await admin('GET', '/api/settings'));
    await conforms('PUT', '/api/settings', await admin('PUT', '/api/settings', { num_ctx: 8192, model_aliases: { 'gpt-*': 'llama3.2' } }));
    await conforms('GET', '/api/ollama-models', await admin('GET', '/api/ollama-models'));
    const info = (await conforms('GET', '/api/proxy-info', await admin('GET', '/api/proxy-info'))) as Json;
    // The check has teeth: a field the document does not name, or a wrong type, fails.
    const fake = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    await expect(conforms('GET', '/api/proxy-info', fake({ ...info, extra: 1 }))).rejects.toThrow(/additional properties/);
    await expect(conforms('GET', '/api/proxy-info', fake({ ...info, proxy_url: 8000 }))).rejects.toThrow(/proxy_url must be string/);
    const upstreams = (await eventually(async () => {
      const list = (await conforms('GET', '/api/upstreams', await admin('GET', '/api/upstreams'))) as { status: { last_poll_at: string | null } }[];
      expect(list[0]!.status.last_poll_at).not.toBeNull();
      return list;
    })) as unknown[];
    expect(upstreams).toHaveLength(1);
    const added = (await conforms('POST', '/api/upstreams', await admin('POST', '/api/upstreams', { name: 'spare', url: 'http://127.0.0.1:9', enabled: false }))) as { id: number };
    await conforms('PATCH', '/api/upstreams/{id}', await admin('PATCH', `/api/upstreams/${added.id}`, { priority: 5 }));
    await conforms('DELETE', '/api/upstreams/{id}', await admin('DELETE', `/api/upstreams/${added.id}`));
    const audit = (await conforms('GET', '/api/audit', await admin('GET', '/api/audit?limit=50'))) as unknown[];
    expect(audit.length).toBeGreaterThan(5);

    const login = (await conforms('POST', '/api/login', await fetch(`${gateway.adminUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: ADMIN_PASSWORD }) }))) as { token: string };
    await conforms('POST', '/api/logout', await fetch(`${gateway.adminUrl}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${login.token}` } }));
    expect(await conforms('GET', '/metrics', await admin('GET', '/metrics'))).toContain('# HELP');
    await conforms('GET', '/healthz', await fetch(`${gateway.adminUrl}/healthz`));
    await conforms('GET', '/readyz', await fetch(`${gateway.adminUrl}/readyz`));
    await conforms('DELETE', '/api/api-keys/{id}', await admin('DELETE', keyPath));
  });

  it('refusals match their documented error schemas', async () => {
    const expectStatus = async (status: number, method: string, path: string, response: Response) => {
      expect(response.status).toBe(status);
      return conforms(method, path, response);
    };
    await expectStatus(400, 'POST', '/api/api-keys', await admin('POST', '/api/api-keys', { name: '', colour: 'blue' }));
    await expectStatus(400, 'PATCH', '/api/api-keys/{id}', await admin('PATCH', '/api/api-keys/abc', { name: 'x' }));
    await expectStatus(404, 'PATCH', '/api/api-keys/{id}/quota', await admin('PATCH', '/api/api-keys/999999/quota', { daily_token_limit: 1 }));
    await gateway.createKey({ name: 'taken' });
    await expectStatus(409, 'POST', '/api/api-keys', await admin('POST', '/api/api-keys', { name: 'TAKEN' }));
    await expectStatus(400, 'GET', '/api/usage', await admin('GET', '/api/usage?from=2026-13-01'));
    const refusal = (await expectStatus(400, 'PUT', '/api/settings', await admin('PUT', '/api/settings', { default_model: 'no-such-model:1b' }))) as { unknown_models?: string[] };
    expect(refusal.unknown_models).toEqual(['no-such-model:1b']);
    await expectStatus(401, 'GET', '/api/settings', await fetch(`${gateway.adminUrl}/api/settings`));
    await expectStatus(401, 'GET', '/v1/usage', await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: 'Bearer sk-not-a-key' } }));
    // Ten wrong passwords from this address: the eleventh attempt is throttled (then forgotten again).
    try {
      for (let i = 0; i < 10; i++) await expectStatus(401, 'POST', '/api/login', await fetch(`${gateway.adminUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: `wrong-${i}` }) }));
      const throttled = await fetch(`${gateway.adminUrl}/api/audit`, { headers: { authorization: 'Bearer wrong-again' } });
      expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectStatus(429, 'GET', '/api/audit', throttled);
    } finally {
      await gateway.shared.sql.run('DELETE FROM admin_auth_failures');
    }
  });

  describe('the browsable page', () => {
    it('answers HTML that loads only files of this listener, and they are there', async () => {
      const response = await fetch(`${gateway.adminUrl}${OPENAPI_PAGE_PATH}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await response.text();
      const references = [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((match) => match[1]!);
      expect(references.length).toBeGreaterThanOrEqual(3);
      for (const reference of references) {
        expect(reference).not.toMatch(/^(?:[a-z]+:)?\/\//i); // no other host, no CDN
        const asset = await fetch(new URL(reference, `${gateway.adminUrl}${OPENAPI_PAGE_PATH}`));
        expect({ reference, status: asset.status }).toEqual({ reference, status: 200 });
      }
      expect(html).not.toMatch(/@import|url\(\s*["']?(?:https?:)?\/\//i);
    });

    it('initialises Swagger UI with the document inline and no call to an outside validator', async () => {
      const init = await (await fetch(`${gateway.adminUrl}${OPENAPI_PAGE_PATH}/swagger-ui-init.js`)).text();
      expect(init).toContain('"validatorUrl": null');
      expect(init).toContain('/api/api-keys');
      // Hosts named in the document's examples (http://localhost:11434) are text on the page, not loaded; the init adds none.
      const hostsOf = (text: string) => new Set([...text.matchAll(/https?:\/\/([^/"'\s:]+)/g)].map((match) => match[1]));
      const inDocument = hostsOf(JSON.stringify(document));
      expect([...hostsOf(init)].filter((host) => host !== '127.0.0.1' && !inDocument.has(host))).toEqual([]);
    });
  });
});
