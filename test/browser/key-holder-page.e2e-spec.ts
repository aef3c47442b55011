import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';
import { testDatabases } from '../support/databases.js';
import { eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here (gitignored); CI keeps them as the run's artifacts. */
const ARTIFACTS = join(process.cwd(), 'test-artifacts');

// Unlike the admin UI's test, this page needs no build step: only Chromium.
const missing = !existsSync(CHROMIUM);
if (missing && process.env.REQUIRE_BROWSER === '1') throw new Error(`REQUIRE_BROWSER=1 but the browser test cannot run without Chromium at ${CHROMIUM} (apt-get install chromium)`);
if (missing) console.warn(`SKIPPING the key holder page's browser test: no Chromium at ${CHROMIUM}`);
const describeBrowser = missing ? describe.skip : describe;

const [database] = await testDatabases();

describeBrowser('the key holder page (/me) in headless Chromium', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let key: string;
  const requests: Request[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    upstream = await startFakeOllama();
    // The server's day in Berlin, the browser in New York: the page shows both.
    gateway = await startTestGateway(await database!.create(), upstream.url, { APP_TZ: 'Europe/Berlin' });
    // A real key, made through the admin API, with limits to show.
    ({ key } = await gateway.createKey({ name: 'page-holder', daily_request_limit: 50, monthly_token_limit: 100_000 }));
    // Other keys the page must say nothing about.
    const other = await gateway.createKey({ name: 'someone-else', daily_request_limit: 7 });
    expect((await chat(other.key)).status).toBe(200);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    context = await browser.newContext({ viewport: { width: 1366, height: 768 }, timezoneId: 'America/New_York', locale: 'en-US' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway.proxyUrl });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('request', (request) => requests.push(request));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await upstream?.close();
  });

  function chat(withKey: string): Promise<Response> {
    return fetch(`${gateway.proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${withKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hello from the key holder page test' }] }),
    });
  }

  const text = (testId: string) => page.getByTestId(testId).innerText();
  /** The error box's paragraphs, one line each. */
  const alertText = async () => (await page.getByRole('alert').innerText()).replace(/\n+/g, '\n');

  /** The page fits the viewport's width: no sideways scrolling of the page itself. */
  // (Browser code as strings: this project's type check has no DOM library.)
  const sidewaysOverflow = () => page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
  const storedKey = () => page.evaluate<string | null>("sessionStorage.getItem('llmproxy.key')");

  it('shows the pasted key’s limits, usage, reset times, models and snippets, and the numbers go up after a request', async () => {
    await page.goto(`${gateway.proxyUrl}/me`);
    // Accessible names: the field by its label, the buttons by their text.
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByTestId('result').waitFor();
    expect(await text('key-name')).toBe('“page-holder”');
    expect(await text('day-requests')).toBe('0 of 50 requests (50 left)');
    expect(await text('day-tokens')).toBe('0 tokens (no limit)');
    expect(await text('month-tokens')).toBe('0 of 100,000 tokens (100,000 left)');
    expect(await text('month-requests')).toBe('0 requests (no limit)');
    expect(await text('day-reserved')).toBe('0 tokens');
    // Midnight in Berlin, shown in New York's time and in the server's.
    const resets = (await text('day-resets')).split('\n');
    expect(resets).toEqual([
      expect.stringMatching(/^\w{3}, \w{3} \d+, \d{4}, (05|06|07):00 PM E[SD]T \(your time\)$/),
      expect.stringMatching(/^\w{3}, \w{3} \d+, \d{4}, 12:00 AM GMT\+[12] \(the server’s time, Europe\/Berlin\)$/),
      expect.stringMatching(/^in \d+ (d|h|min)\b/),
    ]);
    const usage = (await (await fetch(`${gateway.proxyUrl}/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()) as { day: { resets_at: string } };
    expect(usage.day.resets_at).toMatch(/T00:00:00\+0[12]:00$/);
    expect(await page.getByRole('meter', { name: 'Today: requests used' }).getAttribute('max')).toBe('50');
    // Nothing of the other key.
    expect(await page.content()).not.toContain('someone-else');

    const answer = await chat(key);
    expect(answer.status).toBe(200);
    await answer.json();
    await eventually(async () => {
      await page.getByRole('button', { name: 'Refresh numbers' }).click();
      expect(await text('day-requests')).toBe('1 of 50 requests (49 left)');
    }, 10_000);
    expect(await text('month-tokens')).toMatch(/^[1-9][\d,]* of 100,000 tokens/);

    // Models this key can use (GET /v1/models with the key) and the snippets built with them.
    await page.getByTestId('models').locator('li').first().waitFor();
    const models = await page.getByTestId('models').locator('li').allInnerTexts();
    expect(models).toContain('llama3.2:latest');
    const origin = new URL(gateway.proxyUrl).origin;
    const curl = await text('snippet-code-curl');
    expect(curl).toContain(key);
    expect(curl).toContain(`${origin}/v1/chat/completions`);
    expect(curl).toContain(`"model":"${models[0]}"`);
    for (const id of ['openai', 'openai-js', 'anthropic', 'claude-code', 'claude-code-env', 'codex']) {
      const code = await text(`snippet-code-${id}`);
      expect({ id, key: code.includes(key), origin: code.includes(origin) }).toEqual({ id, key: true, origin: true });
    }
    await page.getByRole('button', { name: 'Copy the curl (OpenAI dialect) example' }).click();
    await eventually(async () => expect(await text('status')).toBe('Copied the curl (OpenAI dialect) example.'));
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(curl);

    // Kept in the tab: a reload shows the key's numbers again without pasting.
    expect(await storedKey()).toBe(key);
    await page.reload();
    await page.getByTestId('result').waitFor();
    expect(await text('day-requests')).toBe('1 of 50 requests (49 left)');
    await page.getByTestId('snippet-code-curl').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'key-holder-page.png'), fullPage: true });
    expect(await sidewaysOverflow()).toBeLessThanOrEqual(0);
  });

  it('fits a 390 px phone without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByTestId('snippet-code-codex').waitFor();
    expect(await sidewaysOverflow()).toBeLessThanOrEqual(0);
    // Every part of the page within the screen's width (a long snippet scrolls inside its own box).
    const parts = await page.evaluate<number>(`document.querySelectorAll('main, h1, h2, h3, h4, p, form, input, button, dl, dt, dd, meter, pre, li, section').length`);
    expect(parts).toBeGreaterThan(50);
    const outside = await page.evaluate<string[]>(`[...document.querySelectorAll('main, h1, h2, h3, h4, p, form, input, button, dl, dt, dd, meter, pre, li, section')]
      .filter((node) => {
        const box = node.getBoundingClientRect();
        return box.width > 0 && (box.left < 0 || box.right > document.documentElement.clientWidth + 0.5);
      })
      .map((node) => node.tagName.toLowerCase() + (node.id ? '#' + node.id : ''))`);
    expect(outside).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'key-holder-page-phone.png'), fullPage: true });
  });

  it('forgets the key: gone from the page and from sessionStorage', async () => {
    await page.getByRole('button', { name: 'Forget key' }).click();
    expect(await page.getByTestId('result').isHidden()).toBe(true);
    expect(await storedKey()).toBeNull();
    expect(await page.getByLabel('API key').inputValue()).toBe('');
    expect(await page.content()).not.toContain(key);
    expect(await text('status')).toContain('forgotten');
    // A reload asks for nothing: no key left to send.
    const before = requests.length;
    await page.reload();
    await page.getByLabel('API key').waitFor();
    expect(requests.slice(before).filter((r) => r.url().includes('/v1/'))).toEqual([]);
  });

  it('says in plain words why a key is refused, with the gateway’s message', async () => {
    const refusals: string[] = [];
    const onConsole = (message: { type(): string; text(): string }) => {
      if (message.type() === 'error') refusals.push(message.text());
    };
    const errorsBefore = consoleErrors.length;
    page.on('console', onConsole);
    await page.getByLabel('API key').fill('sk-this-key-does-not-exist');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('alert').waitFor();
    expect(await alertText()).toBe('The gateway does not accept this key.\nIt says: invalid API key');
    expect(await storedKey()).toBeNull();

    // Not even sent: a header cannot carry it.
    const sent = requests.length;
    await page.getByLabel('API key').fill('sk-with a space');
    await page.getByRole('button', { name: 'Show' }).click();
    await eventually(async () => expect(await alertText()).toMatch(/^That is not a key this gateway issues\./));
    expect(requests.length).toBe(sent);

    const { id, key: deactivated } = await gateway.createKey({ name: 'page-deactivated' });
    expect((await gateway.admin(`/api/api-keys/${id}/deactivate`, { method: 'PUT' })).status).toBe(200);
    await page.getByLabel('API key').fill(deactivated);
    await page.getByRole('button', { name: 'Show' }).click();
    await eventually(async () => expect(await alertText()).toBe('The gateway does not accept this key.\nIt says: API key is deactivated'));
    expect(await page.getByTestId('result').isHidden()).toBe(true);
    page.off('console', onConsole);
    // Chromium logs each refused request itself; those 401s are the only console errors here.
    expect(consoleErrors.slice(errorsBefore).filter((m) => !/status of 401/.test(m))).toEqual([]);
    expect(refusals.length).toBeGreaterThan(0);
  });

  it('shows a network error in plain words', async () => {
    await page.route('**/v1/usage', (route) => route.abort('connectionrefused'));
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Show' }).click();
    await eventually(async () => expect(await page.getByRole('alert').innerText()).toContain(`Could not reach the gateway at ${new URL(gateway.proxyUrl).origin}.`));
    await page.unroute('**/v1/usage');
    expect(await storedKey()).toBeNull();
  });

  it('sent the key nowhere but the Authorization header of same-origin GET /v1/usage and /v1/models, and logged no other error', () => {
    const origin = new URL(gateway.proxyUrl).origin;
    expect(page.url()).not.toContain('sk-');
    for (const request of requests) {
      const url = request.url();
      expect({ url, key: url.includes(key) || url.includes('sk-') }).toEqual({ url, key: false });
      expect({ url, origin: new URL(url).origin }).toEqual({ url, origin });
      expect({ url, body: request.postData() }).toEqual({ url, body: null });
      const path = new URL(url).pathname;
      expect(['/me', '/me/me.js', '/me/snippets.js', '/me/me.css', '/v1/usage', '/v1/models']).toContain(path);
      const authorization = request.headers()['authorization'];
      if (path.startsWith('/v1/')) {
        expect(request.method()).toBe('GET');
        expect(authorization).toMatch(/^Bearer sk-/);
      } else {
        expect(authorization).toBeUndefined();
      }
    }
    expect(requests.some((r) => r.url().endsWith('/v1/usage') && r.headers()['authorization'] === `Bearer ${key}`)).toBe(true);
    // The aborted request of the network-error test and the refused keys' 401s, nothing else.
    expect(consoleErrors.filter((m) => !/status of 401|ERR_CONNECTION_REFUSED|Failed to load resource/.test(m))).toEqual([]);
  });
});
