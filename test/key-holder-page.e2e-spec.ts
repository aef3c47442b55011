import 'reflect-metadata';
import { RequestMethod, type DynamicModule, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { IS_PUBLIC } from '../apps/gateway/src/common/public.decorator.js';
import { CONTENT_SECURITY_POLICY } from '../apps/gateway/src/proxy/key-holder-page/page-files.js';
import { ProxyAppModule } from '../apps/gateway/src/proxy/proxy-app.module.js';
import { testDatabases } from './support/databases.js';
import { closeWithFakeOllama, startWithFakeOllama, type TestGateway } from './support/gateway.js';
import type { FakeOllama } from './upstream/fake-ollama.js';

const [database] = await testDatabases();

const PAGE = [
  { path: '/me', type: 'text/html; charset=utf-8' },
  { path: '/me/', type: 'text/html; charset=utf-8' },
  { path: '/me/me.js', type: 'text/javascript; charset=utf-8' },
  { path: '/me/snippets.js', type: 'text/javascript; charset=utf-8' },
  { path: '/me/me.css', type: 'text/css; charset=utf-8' },
];

/** The routes that answer without a key on the proxy listener: the page's two, and those that were public before it. */
const PUBLIC_ROUTES = ['GET /', 'HEAD /api/hello', 'GET /healthz', 'GET /readyz', 'GET /me', 'GET /me/:file'].sort();

describe('the key holder page (/me) on the proxy port', () => {
  const running: { upstream?: FakeOllama; gateway?: TestGateway } = {};
  let gateway: TestGateway;

  beforeAll(async () => {
    Object.assign(running, await startWithFakeOllama(await database!.create()));
    gateway = running.gateway!;
  });

  afterAll(() => closeWithFakeOllama(running));

  it('answers /me and its files with 200, their content types and the security headers, without a key', async () => {
    for (const { path, type } of PAGE) {
      for (const method of ['GET', 'HEAD']) {
        const response = await fetch(`${gateway.proxyUrl}${path}`, { method });
        expect({ path, method, status: response.status }).toEqual({ path, method, status: 200 });
        expect(response.headers.get('content-type')).toBe(type);
        expect(response.headers.get('cache-control')).toBe('no-cache');
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(response.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
        expect(response.headers.get('referrer-policy')).toBe('no-referrer');
        expect(response.headers.get('x-frame-options')).toBe('DENY');
        expect(response.headers.get('set-cookie')).toBeNull();
        if (method === 'GET') expect((await response.text()).length).toBeGreaterThan(100);
      }
    }
  });

  it('has a strict policy: scripts, styles and fetches from its own origin only, nothing inline', () => {
    const directives = Object.fromEntries(CONTENT_SECURITY_POLICY.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));
    expect(directives).toEqual({
      'default-src': "'none'",
      'script-src': "'self'",
      'style-src': "'self'",
      'connect-src': "'self'",
      'img-src': 'data:',
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    });
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|https?:|\*/);
  });

  it('revalidates an unchanged file with 304', async () => {
    const first = await fetch(`${gateway.proxyUrl}/me/me.js`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    const again = await fetch(`${gateway.proxyUrl}/me/me.js`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
  });

  it('references no other host: every script, style and link is on this origin', async () => {
    for (const { path } of PAGE) {
      const text = await (await fetch(`${gateway.proxyUrl}${path}`)).text();
      // An absolute or protocol-relative URL (a comment's "// word" is not one).
      expect({ path, hosts: text.match(/(?:[a-z][a-z0-9+.-]*:)?\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)+/gi) ?? [] }).toEqual({ path, hosts: [] });
      expect(text).not.toMatch(/@import|url\(/);
    }
    const html = await (await fetch(`${gateway.proxyUrl}/me`)).text();
    const references = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(references.sort()).toEqual(['/me/me.css', '/me/me.js', 'data:,']);
    // No inline script or style: every <script> has a src, no style attributes or elements, no on* handlers.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    const script = await (await fetch(`${gateway.proxyUrl}/me/me.js`)).text();
    expect([...script.matchAll(/\bfrom '([^']+)'/g)].map((m) => m[1])).toEqual(['./snippets.js']);
    expect([...script.matchAll(/askGateway\('([^']+)'/g)].map((m) => m[1]).sort()).toEqual(['/v1/models', '/v1/usage']);
  });

  it('answers any other /me/... with a plain 404, not the file system or an Ollama error', async () => {
    for (const path of ['/me/index.html', '/me/snippets.d.ts', '/me/nope.js', '/me/%2e%2e%2fpage-files.ts', '/me/..%2f..%2fpackage.json', '/me/me.js/']) {
      const response = await fetch(`${gateway.proxyUrl}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await response.text()).toBe('Not found.\n');
    }
    // A path that only starts like it is no part of the page: the dialect's 404, as before.
    const other = await fetch(`${gateway.proxyUrl}/meh`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'no route for GET /meh' });
  });

  it('made nothing else public: every other route of the proxy listener still answers 401 without a key', async () => {
    const routes = await proxyRoutes(gateway);
    expect(routes.filter((r) => r.public).map((r) => r.name).sort()).toEqual(PUBLIC_ROUTES);
    const guarded = routes.filter((r) => !r.public);
    expect(guarded.length).toBeGreaterThan(10);
    for (const route of guarded) {
      const path = route.path.replace(/[:*][A-Za-z]+/g, 'x');
      // @All routes: asked with POST (an HTTP method named ALL does not exist).
      const method = route.method === 'ALL' ? 'POST' : route.method;
      const response = await fetch(`${gateway.proxyUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: method === 'GET' || method === 'HEAD' ? undefined : '{}',
      });
      expect({ route: route.name, status: response.status }).toEqual({ route: route.name, status: 401 });
    }
    // The page's own data: nothing without the key.
    expect((await fetch(`${gateway.proxyUrl}/v1/usage`)).status).toBe(401);
    expect((await fetch(`${gateway.proxyUrl}/v1/models`)).status).toBe(401);
  });
});

interface Route {
  name: string;
  method: string;
  path: string;
  public: boolean;
}

/** Every route of the proxy listener's module tree, from the controllers' own decorators. */
async function proxyRoutes(gateway: TestGateway): Promise<Route[]> {
  const controllers = new Set<Type>();
  const seen = new Set<unknown>();
  const visit = async (entry: unknown): Promise<void> => {
    const module = (await entry) as Type | DynamicModule | undefined;
    if (!module || seen.has(module)) return;
    seen.add(module);
    const dynamic = 'module' in (module as object) ? (module as DynamicModule) : undefined;
    const type = dynamic ? dynamic.module : (module as Type);
    for (const controller of [...(dynamic?.controllers ?? []), ...((Reflect.getMetadata('controllers', type) as Type[] | undefined) ?? [])]) controllers.add(controller);
    for (const imported of [...(dynamic?.imports ?? []), ...((Reflect.getMetadata('imports', type) as unknown[] | undefined) ?? [])]) await visit(imported);
  };
  await visit(ProxyAppModule.forRoot(gateway.shared));
  const routes: Route[] = [];
  for (const controller of controllers) {
    const prefix = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '').replace(/^\/|\/$/g, '');
    const classPublic = Reflect.getMetadata(IS_PUBLIC, controller) === true;
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (paths === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      for (const path of Array.isArray(paths) ? paths : [paths]) {
        const full = `/${[prefix, path.replace(/^\/|\/$/g, '')].filter(Boolean).join('/')}`;
        routes.push({ name: `${method} ${full}`, method, path: full, public: classPublic || Reflect.getMetadata(IS_PUBLIC, handler) === true });
      }
    }
  }
  return routes;
}
