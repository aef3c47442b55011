import type { AuditEntry, AuthMethods, LoginResponse, MeView } from '@llmproxy/api-types';
import { ADMIN_PASSWORD, closeWithFakeOllama, startWithFakeOllama, type TestGateway } from './support/gateway.js';
import type { FakeOllama } from './upstream/fake-ollama.js';
import { testDatabases } from './support/databases.js';
import { OIDC_CLIENT, startTestProvider, type TestProvider } from './support/oidc-provider.js';

/**
 * Single sign-on against a real OpenID provider (oidc-provider on 127.0.0.1), driven hop by hop
 * with plain HTTP as a browser would: redirects followed by hand, cookies kept per host and path,
 * the provider's own login and consent forms submitted. Nothing of the protocol is mocked.
 */

const databases = await testDatabases();
const sqlite = databases.find((database) => database.name === 'sqlite')!;

/** A browser's cookies, enough for these hops: per name, with the path they were set for (ports share cookies, as in browsers). */
class CookieJar {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at);
      const value = pair!.slice(at + 1);
      const path = attributes.find((attribute) => attribute.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attributes.some((attribute) => /^max-age=0$/i.test(attribute) || /^expires=thu, 01 jan 1970/i.test(attribute));
      const key = `${name} ${path}`;
      if (expired || value === '') this.cookies.delete(key);
      else this.cookies.set(key, { value, path });
    }
  }

  header(url: URL): string {
    return [...this.cookies.entries()]
      .filter(([, cookie]) => url.pathname.startsWith(cookie.path))
      .map(([key, cookie]) => `${key.split(' ')[0]}=${cookie.value}`)
      .join('; ');
  }

  snapshot(): CookieJar {
    const copy = new CookieJar();
    for (const [key, cookie] of this.cookies) copy.cookies.set(key, { ...cookie });
    return copy;
  }
}

async function hop(jar: CookieJar, url: URL, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: jar.header(url) } });
  jar.take(response);
  return response;
}

/**
 * From the login page's "Sign in with …" (GET /api/oidc/login) through the provider's login and
 * consent forms, up to — not into — the provider's redirect back to the gateway's callback.
 */
async function signInAtProvider(gateway: TestGateway, jar: CookieJar, login: string): Promise<URL> {
  let url = new URL('/api/oidc/login', gateway.adminUrl);
  let response = await hop(jar, url);
  for (let hops = 0; hops < 20; hops++) {
    if (response.status >= 300 && response.status < 400) {
      const next = new URL(response.headers.get('location')!, url);
      await response.arrayBuffer();
      if (next.pathname === '/api/oidc/callback') return next;
      url = next;
      response = await hop(jar, url);
      continue;
    }
    const html = await response.text();
    expect(response.status).toBe(200);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`no form at ${url.href}: ${html.slice(0, 300)}`);
    const body = new URLSearchParams({ prompt, ...(prompt === 'login' ? { login, password: 'any password' } : {}) });
    url = new URL(action.replace(/&amp;/g, '&'), url);
    response = await hop(jar, url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
  throw new Error('too many hops');
}

/** The whole sign-in: the callback's answer, and the session the UI would pick up (or the page shown instead). */
async function signIn(gateway: TestGateway, login: string): Promise<{ callback: Response; session?: LoginResponse; page?: string }> {
  const jar = new CookieJar();
  const callbackUrl = await signInAtProvider(gateway, jar, login);
  const callback = await hop(jar, callbackUrl);
  if (callback.status !== 303) return { callback, page: await callback.text() };
  expect(callback.headers.get('location')).toBe('/login?sso=1');
  const pickUp = await hop(jar, new URL('/api/oidc/session', gateway.adminUrl), { method: 'POST' });
  expect(pickUp.status).toBe(200);
  return { callback, session: (await pickUp.json()) as LoginResponse };
}

const asSession = (token: string, init: RequestInit = {}) => ({ ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });

describe('single sign-on with OpenID Connect (a real provider on 127.0.0.1)', () => {
  let provider: TestProvider;
  let upstream: FakeOllama | undefined;
  let gateway: TestGateway | undefined;
  const call = (path: string, init?: RequestInit) => fetch(`${gateway!.adminUrl}${path}`, init);
  const lastFailureReason = async () => {
    const audit = (await (await gateway!.admin('/api/audit?limit=20')).json()) as AuditEntry[];
    return audit.find((entry) => entry.action === 'login.failure')?.changes?.['reason']?.new;
  };

  beforeAll(async () => {
    provider = await startTestProvider();
    ({ upstream, gateway } = await startWithFakeOllama(await sqlite.create(), {
      OIDC_ISSUER: provider.issuer,
      OIDC_CLIENT_ID: OIDC_CLIENT.client_id,
      OIDC_CLIENT_SECRET: OIDC_CLIENT.client_secret,
      OIDC_SCOPES: 'openid profile groups',
      OIDC_ADMIN_VALUES: 'llm-admins',
      OIDC_VIEWER_VALUES: 'llm-viewers,auditors',
      OIDC_PROVIDER_NAME: 'Test IdP',
    }));
    // OIDC_REDIRECT_URL unset: the callback is derived from the origin the browser used.
    provider.setRedirectUris([`${gateway.adminUrl}/api/oidc/callback`]);
  });

  afterAll(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    await provider?.close();
  });

  it('tells the login page that single sign-on is on, and keeps the password login', async () => {
    const methods = (await (await call('/api/auth-methods')).json()) as AuthMethods;
    expect(methods).toEqual({ password: true, sso: { name: 'Test IdP', login_url: '/api/oidc/login' } });
  });

  it('signs in a member of the admin group as an admin, in an account of its own named after sub', async () => {
    const { session } = await signIn(gateway!, 'alice');
    expect(session).toMatchObject({ username: 'oidc:alice', role: 'admin' });
    const me = (await (await call('/api/me', asSession(session!.token))).json()) as MeView;
    expect(me).toEqual({ username: 'oidc:alice', role: 'admin', built_in: false, sso: true });
    // A write works, and the audit log names the account.
    const created = await call('/api/api-keys', asSession(session!.token, { method: 'POST', body: JSON.stringify({ name: 'made-by-sso' }) }));
    expect(created.status).toBe(201);
    const audit = (await (await gateway!.admin('/api/audit?limit=50')).json()) as AuditEntry[];
    expect(audit.find((entry) => entry.action === 'api_key.create' || entry.target_name === 'made-by-sso')?.actor).toBe('oidc:alice');
    const login = audit.find((entry) => entry.action === 'login.success' && entry.actor === 'oidc:alice');
    expect(login?.changes).toMatchObject({ sso: { new: 'Test IdP' }, provider_name: { new: 'alice' } });
    // No password ever opens that account.
    const byPassword = await call('/api/login', { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.7' }, body: JSON.stringify({ username: 'oidc:alice', password: 'sso' }) });
    expect(byPassword.status).toBe(401);
    // Nor can an admin give it one, or rename it into a local account.
    const accounts = (await (await gateway!.admin('/api/accounts')).json()) as { id: number; username: string }[];
    const id = accounts.find((account) => account.username === 'oidc:alice')!.id;
    expect((await gateway!.admin(`/api/accounts/${id}`, { method: 'PATCH', body: JSON.stringify({ password: 'a-long-enough-password' }) })).status).toBe(409);
    expect((await gateway!.admin(`/api/accounts/${id}`, { method: 'PATCH', body: JSON.stringify({ username: 'alice' }) })).status).toBe(409);
  });

  it('sets the role from the claim again at every login', async () => {
    const accounts = (await (await gateway!.admin('/api/accounts')).json()) as { id: number; username: string }[];
    const id = accounts.find((account) => account.username === 'oidc:alice')!.id;
    // oidc:alice is the only stored admin so far: the last-admin rule of the accounts API holds for it too.
    expect((await gateway!.admin(`/api/accounts/${id}`, { method: 'PATCH', body: JSON.stringify({ role: 'viewer' }) })).status).toBe(409);
    const local = { username: 'ops', role: 'admin', password: 'a-long-enough-password' };
    expect((await gateway!.admin('/api/accounts', { method: 'POST', body: JSON.stringify(local) })).status).toBe(201);
    expect((await gateway!.admin(`/api/accounts/${id}`, { method: 'PATCH', body: JSON.stringify({ role: 'viewer' }) })).status).toBe(200);
    const { session } = await signIn(gateway!, 'alice');
    expect(session).toMatchObject({ username: 'oidc:alice', role: 'admin' });
    const audit = (await (await gateway!.admin('/api/audit?limit=20')).json()) as AuditEntry[];
    expect(audit.find((entry) => entry.action === 'account.update' && entry.actor === 'oidc:alice')?.changes).toMatchObject({ role: { old: 'viewer', new: 'admin' } });
  });

  it('signs in a member of a viewer group as a viewer, whose writes answer 403', async () => {
    const { session } = await signIn(gateway!, 'vera');
    expect(session).toMatchObject({ username: 'oidc:vera', role: 'viewer' });
    const me = (await (await call('/api/me', asSession(session!.token))).json()) as MeView;
    expect(me.role).toBe('viewer');
    expect((await call('/api/api-keys', asSession(session!.token))).status).toBe(200);
    expect((await call('/api/api-keys', asSession(session!.token, { method: 'POST', body: JSON.stringify({ name: 'viewer-key' }) }))).status).toBe(403);
  });

  it('refuses a user in neither group with a page saying why, and opens no session', async () => {
    const { callback, session, page } = await signIn(gateway!, 'nora');
    expect(session).toBeUndefined();
    expect(callback.status).toBe(403);
    expect(callback.headers.getSetCookie().some((line) => line.startsWith('llmproxy_sso=') && !line.startsWith('llmproxy_sso=;'))).toBe(false);
    expect(page).toContain('No access to this admin UI');
    expect(page).toContain('nora (oidc:nora)');
    const accounts = (await (await gateway!.admin('/api/accounts')).json()) as { username: string }[];
    expect(accounts.map((account) => account.username)).not.toContain('oidc:nora');
  });

  it('refuses an answer whose state was tampered with', async () => {
    const jar = new CookieJar();
    const callbackUrl = await signInAtProvider(gateway!, jar, 'alice');
    expect(callbackUrl.searchParams.get('state')).toBeTruthy();
    callbackUrl.searchParams.set('state', `${callbackUrl.searchParams.get('state')}x`);
    const callback = await hop(jar, callbackUrl);
    expect(callback.status).toBe(400);
    expect(await callback.text()).toContain('Sign-in failed');
    expect((await hop(jar, new URL('/api/oidc/session', gateway!.adminUrl), { method: 'POST' })).status).toBe(401);
    expect(await lastFailureReason()).toMatch(/state/i);
  });

  it('refuses a code used a second time, even with the browser state it came with', async () => {
    const jar = new CookieJar();
    const callbackUrl = await signInAtProvider(gateway!, jar, 'alice');
    const before = jar.snapshot();
    expect((await hop(jar, callbackUrl)).status).toBe(303);
    const replay = await hop(before, callbackUrl);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('Sign-in failed');
    expect((await hop(before, new URL('/api/oidc/session', gateway!.adminUrl), { method: 'POST' })).status).toBe(401);
    // Refused by the provider itself: the code was spent.
    expect(await lastFailureReason()).toMatch(/invalid_grant/);
  });

  it('refuses a callback without the cookie of a sign-in started in this browser', async () => {
    const callbackUrl = await signInAtProvider(gateway!, new CookieJar(), 'alice');
    const callback = await hop(new CookieJar(), callbackUrl);
    expect(callback.status).toBe(400);
    expect(await lastFailureReason()).toMatch(/no sign-in was started/);
  });

  it('keeps local account names apart: none may contain the prefix', async () => {
    const response = await gateway!.admin('/api/accounts', { method: 'POST', body: JSON.stringify({ username: 'oidc:alice', role: 'admin', password: 'a-long-enough-password' }) });
    expect(response.status).toBe(400);
  });
});

describe('single sign-on settings', () => {
  let upstream: FakeOllama | undefined;
  let gateway: TestGateway | undefined;

  afterEach(async () => {
    await closeWithFakeOllama({ gateway, upstream });
    gateway = undefined;
    upstream = undefined;
  });

  it('is off without OIDC_ISSUER: no button, no routes', async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await sqlite.create()));
    expect(await (await fetch(`${gateway.adminUrl}/api/auth-methods`)).json()).toEqual({ password: true, sso: null });
    expect((await fetch(`${gateway.adminUrl}/api/oidc/login`, { redirect: 'manual' })).status).toBe(404);
  });

  it('OIDC_ONLY: the page offers only single sign-on, named accounts cannot use a password, ADMIN_PASSWORD still works', async () => {
    ({ upstream, gateway } = await startWithFakeOllama(await sqlite.create(), {
      OIDC_ISSUER: 'http://127.0.0.1:9/unreachable',
      OIDC_CLIENT_ID: 'x',
      OIDC_ADMIN_VALUES: 'admins',
      OIDC_ONLY: 'true',
    }));
    expect(await (await fetch(`${gateway.adminUrl}/api/auth-methods`)).json()).toEqual({ password: false, sso: { name: 'single sign-on', login_url: '/api/oidc/login' } });
    expect((await gateway.admin('/api/accounts', { method: 'POST', body: JSON.stringify({ username: 'local', role: 'admin', password: 'a-long-enough-password' }) })).status).toBe(201);
    const json = { 'content-type': 'application/json' };
    expect((await fetch(`${gateway.adminUrl}/api/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'local', password: 'a-long-enough-password' }) })).status).toBe(403);
    expect((await fetch(`${gateway.adminUrl}/api/login`, { method: 'POST', headers: json, body: JSON.stringify({ password: ADMIN_PASSWORD }) })).status).toBe(200);
    expect((await gateway.admin('/api/me')).status).toBe(200);
    // The provider unreachable: a page saying so, not a stack trace.
    const down = await fetch(`${gateway.adminUrl}/api/oidc/login`, { redirect: 'manual' });
    expect(down.status).toBe(502);
    expect(await down.text()).toContain('Single sign-on is unavailable');
  });
});
