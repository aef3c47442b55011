import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { AuditEntry } from '@llmproxy/api-types';
import { adminUiDirectory } from '../../apps/gateway/src/admin/ui/ui-directory.js';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';
import { testDatabases } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { OIDC_CLIENT, startTestProvider, type TestProvider } from '../support/oidc-provider.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');

const missing = [
  !existsSync(CHROMIUM) && `Chromium at ${CHROMIUM} (apt-get install chromium)`,
  !adminUiDirectory() && 'the built admin UI (npm --prefix angular-admin run build)',
].filter(Boolean);
if (missing.length > 0 && process.env.REQUIRE_BROWSER === '1') {
  throw new Error(`REQUIRE_BROWSER=1 but the browser test cannot run without ${missing.join(' and ')}`);
}
if (missing.length > 0) console.warn(`SKIPPING the single sign-on browser test: no ${missing.join(' and ')}`);
const describeBrowser = missing.length > 0 ? describe.skip : describe;

const [database] = await testDatabases();

/** Single sign-on as an operator meets it: the login page's button, the provider's own pages, back in the UI signed in. */
describeBrowser('single sign-on in headless Chromium, against a real OpenID provider', () => {
  let provider: TestProvider;
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    provider = await startTestProvider();
    upstream = await startFakeOllama();
    gateway = await startTestGateway(await database!.create(), upstream.url, {
      OIDC_ISSUER: provider.issuer,
      OIDC_CLIENT_ID: OIDC_CLIENT.client_id,
      OIDC_CLIENT_SECRET: OIDC_CLIENT.client_secret,
      OIDC_SCOPES: 'openid profile groups',
      OIDC_ADMIN_VALUES: 'llm-admins',
      OIDC_VIEWER_VALUES: 'llm-viewers',
      OIDC_PROVIDER_NAME: 'Test IdP',
    });
    provider.setRedirectUris([`${gateway.adminUrl}/api/oidc/callback`]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'] });
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await upstream?.close();
    await provider?.close();
  });

  async function signIn(login: string) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && page.url().startsWith(gateway.adminUrl)) errors.push(message.text());
    });
    await page.goto(gateway.adminUrl);
    await page.getByTestId('login-sso').click();
    // The provider's own login form (devInteractions: any password), then its consent page.
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    await page.locator('button[type="submit"]').click();
    await page.locator('input[name="prompt"][value="consent"]').waitFor({ state: 'attached' });
    await page.locator('button[type="submit"]').click();
    return { context, page, errors };
  }

  it('"Sign in with Test IdP", log in at the provider, land on the overview signed in as an admin', async () => {
    const { context, page, errors } = await signIn('alice');
    await page.getByTestId('overview-requests-today').waitFor();
    expect(new URL(page.url()).pathname).toBe('/overview');
    expect(await page.getByTestId('signed-in-as').innerText()).toBe('oidc:alice · admin');
    await page.screenshot({ path: join(ARTIFACTS, 'admin-sso-overview.png') });
    // Reloading keeps the session; nothing else was handed over.
    await page.reload();
    await page.getByTestId('overview-requests-today').waitFor();
    expect(errors).toEqual([]);
    const audit = (await (await gateway.admin('/api/audit?limit=20')).json()) as AuditEntry[];
    expect(audit.some((entry) => entry.action === 'login.success' && entry.actor === 'oidc:alice')).toBe(true);
    await context.close();
  });

  it('shows the login page with the button, and a user in no group a page saying why', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(`${gateway.adminUrl}/login`);
    await page.getByTestId('login-sso').waitFor();
    expect(await page.getByTestId('login-sso').innerText()).toContain('Sign in with Test IdP');
    await page.screenshot({ path: join(ARTIFACTS, 'admin-login-sso-phone.png') });
    await context.close();

    const refused = await signIn('nora');
    await refused.page.getByTestId('sso-title').waitFor();
    expect(await refused.page.getByTestId('sso-title').innerText()).toBe('No access to this admin UI');
    await refused.context.close();
  });
});
