import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { ModulesContainer } from '@nestjs/core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { getMetadataStorage } from 'class-validator';
import { OPENAPI_JSON_PATH, OPENAPI_PAGE_PATH } from '../apps/gateway/src/admin/openapi/openapi.js';
import { testDatabases } from './support/databases.js';
import { OpenApiChecker, type Document, type Operation } from './support/openapi-checker.js';
import { ADMIN_PASSWORD, closeWithFakeOllama, eventually, startWithFakeOllama, type TestGateway } from './support/gateway.js';
import type { FakeOllama } from './upstream/fake-ollama.js';

type Json = Record<string, unknown>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/** Express's `/api/api-keys/:id` as OpenAPI writes it: `/api/api-keys/{id}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const [sqlite] = await testDatabases();

describe('OpenAPI document', () => {
  let upstream: FakeOllama | undefined;
  let gateway: TestGateway;
  let document: Document;
  let checker: OpenApiChecker;

  beforeAll(async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await sqlite!.create()));
    checker = await OpenApiChecker.load(gateway.adminUrl);
    document = checker.document;
  });

  afterAll(() => closeWithFakeOllama({ gateway, upstream }));

  const operation = (method: string, path: string) => checker.operation(method, path);
  const conforms = (method: string, path: string, response: Response) => checker.conforms(method, path, response);

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
    // Express (its router is not strict) serves `/api/me/` as `/api/me`: one route. Nest registers the
    // admin app's middleware (MiddlewareConsumer.forRoutes(...ADMIN_CONTROLLERS)) under a controller
    // root route's spelling with the slash, as route layers of their own; they are the same routes.
    expect((express.router as { strict?: boolean }).strict).toBeFalsy();
    const routes = express.router.stack
      .flatMap((layer) => (layer.route ? Object.keys(layer.route.methods).map((method) => ({ method, path: layer.route!.path.replace(/(.)\/$/, '$1') })) : []))
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
        const responses = Object.entries((item[method] as Operation).responses);
        const success = responses.filter(([status]) => /^2\d\d$/.test(status));
        // The single sign-on hops of the browser (GET /api/oidc/login, /api/oidc/callback) succeed
        // with a redirect, not a JSON body: for them, a 3xx that names its Location is the success answer.
        const redirects = responses.filter(([status, answer]) => /^3\d\d$/.test(status) && answer.headers?.Location);
        // @nestjs/swagger gives an undocumented route a bare `200`/`201` with no schema.
        const described =
          success.some(([status, answer]) => (status === '204' && (answer as { description?: string }).description) || Object.values(answer.content ?? {}).some((media) => media.schema)) ||
          (success.length === 0 && redirects.length > 0);
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
    expect(publicOnes.sort()).toEqual(['GET /api/auth-methods', 'GET /api/oidc/callback', 'GET /api/oidc/login', 'GET /healthz', 'GET /readyz', 'POST /api/login', 'POST /api/oidc/session']);
  });

  it('documents 403 exactly where a viewer is refused: every write except logout and its own password, and all of /api/accounts', () => {
    // Written out here, not derived as openapi.ts derives it from @AnyRole()/@AdminOnly(): the two must agree.
    const openToViewers = new Set(['POST /api/logout', 'PUT /api/me/password']);
    const mismatched: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      if (path === '/v1/usage') continue;
      for (const method of HTTP_METHODS.filter((m) => item[m])) {
        const { security, responses } = item[method] as Operation;
        // A public route has no role to check (GET /api/oidc/callback's 403 is its own: a user the provider's claim gives no role).
        if (security?.length === 0) continue;
        const route = `${method.toUpperCase()} ${path}`;
        const refused = !openToViewers.has(route) && (method !== 'get' || path.startsWith('/api/accounts'));
        if (refused !== '403' in responses) mismatched.push(`${route}: ${refused ? 'no 403' : 'a 403 it cannot answer'}`);
      }
    }
    expect(mismatched).toEqual([]);
    expect(Object.keys(operation('POST', '/api/api-keys').responses)).toContain('403');
    expect(Object.keys(operation('GET', '/api/accounts').responses)).toContain('403');
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

    await conforms('GET', '/api/overview', await admin('GET', '/api/overview'));
    await conforms('GET', '/api/me', await admin('GET', '/api/me'));
    const methods = (await conforms('GET', '/api/auth-methods', await fetch(`${gateway.adminUrl}/api/auth-methods`))) as Json;
    expect(methods).toEqual({ password: true, sso: null });
  });

  it('named accounts: their answers and a viewer\'s 403 match the documented schemas', async () => {
    const account = (await conforms('POST', '/api/accounts', await admin('POST', '/api/accounts', { username: 'OpenAPI-Viewer', role: 'viewer', password: 'a long enough password' }))) as { id: number; username: string };
    expect(account.username).toBe('openapi-viewer');
    const accounts = (await conforms('GET', '/api/accounts', await admin('GET', '/api/accounts'))) as unknown[];
    expect(accounts.length).toBeGreaterThan(0);
    await conforms('PATCH', '/api/accounts/{id}', await admin('PATCH', `/api/accounts/${account.id}`, { password: 'another long password' }));

    const login = await fetch(`${gateway.adminUrl}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'openapi-viewer', password: 'another long password' }) });
    const { token, role } = (await conforms('POST', '/api/login', login)) as { token: string; role: string };
    expect(role).toBe('viewer');
    const viewer = (method: string, path: string, body?: unknown) =>
      fetch(`${gateway.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const me = (await conforms('GET', '/api/me', await viewer('GET', '/api/me'))) as Json;
    expect(me).toEqual({ username: 'openapi-viewer', role: 'viewer', built_in: false, sso: false });
    await conforms('GET', '/api/overview', await viewer('GET', '/api/overview'));
    const refused = await viewer('PUT', '/api/settings', { num_ctx: 4096 });
    expect(refused.status).toBe(403);
    await conforms('PUT', '/api/settings', refused);
    const hidden = await viewer('GET', '/api/accounts');
    expect(hidden.status).toBe(403);
    await conforms('GET', '/api/accounts', hidden);
    await conforms('PUT', '/api/me/password', await viewer('PUT', '/api/me/password', { current_password: 'another long password', new_password: 'a third long password' }));

    const wrong = await admin('PUT', '/api/me/password', { current_password: 'x', new_password: 'a third long password' });
    expect(wrong.status).toBe(409); // the built-in admin's password is ADMIN_PASSWORD
    await conforms('PUT', '/api/me/password', wrong);
    const taken = await admin('POST', '/api/accounts', { username: 'openapi-viewer', role: 'admin', password: 'a long enough password' });
    expect(taken.status).toBe(409);
    await conforms('POST', '/api/accounts', taken);
    await conforms('DELETE', '/api/accounts/{id}', await admin('DELETE', `/api/accounts/${account.id}`));
    const gone = await admin('DELETE', `/api/accounts/${account.id}`);
    expect(gone.status).toBe(404);
    await conforms('DELETE', '/api/accounts/{id}', gone);
  });

  it('single sign-on routes answer as documented when it is off (a redirect needs a provider: test/oidc.e2e-spec.ts)', async () => {
    for (const [method, path] of [['GET', '/api/oidc/login'], ['GET', '/api/oidc/callback'], ['POST', '/api/oidc/session']] as const) {
      const response = await fetch(`${gateway.adminUrl}${path}`, { method, redirect: 'manual' });
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      await conforms(method, path, response);
    }
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
