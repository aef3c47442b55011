import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { adminUiDirectory } from '../../apps/gateway/src/admin/ui/ui-directory.js';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';
import { testDatabases } from '../support/databases.js';
import { ADMIN_PASSWORD, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here (gitignored); CI keeps them as the run's artifacts. */
export const ARTIFACTS = join(process.cwd(), 'test-artifacts');

const missing = [
  !existsSync(CHROMIUM) && `Chromium at ${CHROMIUM} (apt-get install chromium)`,
  !adminUiDirectory() && 'the built admin UI (npm --prefix angular-admin run build)',
].filter(Boolean);
if (missing.length > 0 && process.env.REQUIRE_BROWSER === '1') {
  throw new Error(`REQUIRE_BROWSER=1 but the browser test cannot run without ${missing.join(' and ')}`);
}
if (missing.length > 0) console.warn(`SKIPPING the browser test: no ${missing.join(' and ')}`);
const describeBrowser = missing.length > 0 ? describe.skip : describe;

const [database] = await testDatabases();

describeBrowser('the admin UI in headless Chromium', () => {
  let upstream: FakeOllama;
  let gateway: TestGateway;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    upstream = await startFakeOllama();
    // Polls every second: the upstreams page shows what the last poll saw.
    gateway = await startTestGateway(await database!.create(), upstream.url, { UPSTREAM_POLL_S: '1' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await upstream?.close();
  });

  const chat = (key: string) =>
    fetch(`${gateway.proxyUrl}/api/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hello from the browser test' }], stream: false }),
    });

  it('logs in, creates a key, sees its usage, changes its quota and deactivates it', async () => {
    await page.goto(gateway.adminUrl);
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await page.getByTestId('login-submit').click();

    await page.getByTestId('key-create').click();
    await page.getByTestId('key-name-input').fill('browser-user');
    await page.getByTestId('key-queue-weight-input').fill('3');
    await page.getByTestId('key-create-submit').click();
    const key = (await page.getByTestId('new-key-value').innerText()).trim();
    expect(key).toMatch(/^sk-[0-9A-Za-z]{43}$/);
    await page.getByTestId('new-key-close').click();
    await page.getByTestId('key-row-browser-user').waitFor();

    const answer = await chat(key);
    expect(answer.status).toBe(200);
    await answer.json();

    await page.getByTestId('keys-refresh').click();
    await eventually(async () => {
      await page.getByTestId('keys-refresh').click();
      const text = await page.getByTestId('key-usage-daily-requests-browser-user').innerText();
      expect(text).toContain('1');
    }, 10_000);
    await page.getByTestId('nav-usage').click();
    await page.getByTestId('usage-chart').waitFor();
    await eventually(async () => {
      await page.getByTestId('usage-refresh').click();
      expect((await page.getByTestId('usage-total-requests').innerText()).replace(/\D/g, '')).toBe('1');
    }, 10_000);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-usage.png'), fullPage: true });
    // The request under the one upstream that served it; the table fits a phone.
    expect(await page.getByTestId('usage-upstream-row-ollama').locator('td').allInnerTexts()).toEqual(['ollama', '1', expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), '0']);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByTestId('usage-upstreams').scrollIntoViewIfNeeded();
    expect(await layoutProblems(page, '[data-testid="usage-upstreams"]', 'th, td')).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-usage-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1400, height: 900 });

    await page.getByTestId('nav-keys').click();
    await page.getByTestId('key-quota-browser-user').click();
    await page.getByTestId('quota-daily-requests-input').fill('5');
    await page.getByTestId('quota-submit').click();
    await eventually(async () => {
      expect(await page.getByTestId('key-usage-daily-requests-browser-user').innerText()).toContain('1 of 5');
    }, 10_000);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-keys.png'), fullPage: true });
    const keys = (await (await gateway.admin('/api/api-keys')).json()) as { name: string; daily_request_limit: number | null; queue_weight: number }[];
    expect(keys.find((k) => k.name === 'browser-user')).toMatchObject({ daily_request_limit: 5, queue_weight: 3 });

    // The edit dialog shows the weight and changes it.
    await page.getByTestId('key-edit-browser-user').click();
    const weight = page.getByTestId('key-queue-weight-input');
    expect(await weight.inputValue()).toBe('3');
    await weight.fill('2');
    await page.getByTestId('key-edit-submit').click();
    await eventually(async () => expect(await page.getByTestId('key-weight-browser-user').innerText()).toContain('2'), 10_000);
    const edited = (await (await gateway.admin('/api/api-keys')).json()) as { name: string; queue_weight: number }[];
    expect(edited.find((k) => k.name === 'browser-user')?.queue_weight).toBe(2);

    // Deactivate is in the row's menu.
    await page.getByTestId('key-menu-browser-user').click();
    await page.getByTestId('key-deactivate-browser-user').click();
    const confirm = page.getByTestId('confirm-ok');
    if (await confirm.isVisible().catch(() => false)) await confirm.click();
    await eventually(async () => {
      expect((await page.getByTestId('key-status-browser-user').innerText()).toLowerCase()).toContain('inactive');
    }, 10_000);
    const refused = await chat(key);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: 'API key is deactivated' });
  });

  /** What is wrong with the layout of `parts` inside `container`: one past the viewport's edges, two whose boxes intersect. */
  const layoutProblems = async (on: Page, container: string, parts: string) => {
    const width = on.viewportSize()!.width;
    const boxes: { name: string; box: { x: number; y: number; width: number; height: number } }[] = [];
    for (const part of await on.locator(container).locator(parts).all()) {
      const box = await part.boundingBox();
      if (box && box.width > 0 && box.height > 0) boxes.push({ name: (await part.textContent())?.trim().slice(0, 30) || (await part.getAttribute('data-testid')) || '?', box });
    }
    const problems = boxes.filter(({ box }) => box.x < 0 || box.x + box.width > width + 1).map(({ name }) => `"${name}" crosses the edge`);
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const x = Math.min(a.box.x + a.box.width, b.box.x + b.box.width) - Math.max(a.box.x, b.box.x);
        const y = Math.min(a.box.y + a.box.height, b.box.y + b.box.height) - Math.max(a.box.y, b.box.y);
        if (x > 1 && y > 1) problems.push(`"${a.name}" overlaps "${b.name}"`);
      }
    }
    return problems;
  };

  it('saves what key holders may ask of the server from the settings page, which fits a laptop and a phone', async () => {
    await page.goto(`${gateway.adminUrl}/settings`);
    const longest = page.getByTestId('settings-keep-alive-max');
    await longest.waitFor();
    expect(await longest.inputValue()).toBe('1800');
    await longest.fill('3600');
    await page.getByTestId('settings-max-num-ctx').fill('16384');
    await page.getByTestId('settings-allow-load-options').locator('input').check();
    await page.getByTestId('settings-save').click();
    await page.getByTestId('settings-saved').waitFor();
    const settings = (await (await gateway.admin('/api/settings')).json()) as Record<string, unknown>;
    expect(settings).toMatchObject({ keep_alive_min_s: 300, keep_alive_max_s: 3600, max_num_ctx: 16384, allow_load_options: true, allow_cloud_models: false });

    for (const [name, viewport] of [
      ['laptop', { width: 1366, height: 768 }],
      ['phone', { width: 390, height: 844 }],
    ] as const) {
      await page.setViewportSize(viewport);
      await page.getByTestId('settings-policy').scrollIntoViewIfNeeded();
      // The section's own boxes: the shell's toolbar is another component's concern.
      expect(await layoutProblems(page, '[data-testid="settings-policy"]', 'h2, p, mat-label, mat-hint, input.mat-mdc-input-element, .mdc-checkbox, .mdc-label')).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, `admin-settings-${name}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1400, height: 900 });
  });

  it('shows the upstreams with health and models, adds, edits, disables and removes one, and fits a laptop and a phone', async () => {
    const consoleErrors: string[] = [];
    const onConsole = (message: { type(): string; text(): string }) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    };
    page.on('console', onConsole);
    const second = await startFakeOllama({ models: [{ name: 'mistral:7b', capabilities: ['completion'] }] });
    try {
      type Listed = { name: string; max_parallel: number; enabled: boolean; status: { health: string } };
      const listed = async () => (await (await gateway.admin('/api/upstreams')).json()) as Listed[];
      const namesAt = async (url: string, path: '/api/tags' | '/api/ps') => ((await (await fetch(`${url}${path}`)).json()) as { models: { name: string }[] }).models.map((m) => m.name);

      // A chat loads llama3.2 on the seeded server; its card marks it loaded once a poll saw /api/ps.
      const { key } = await gateway.createKey({ name: 'upstreams-page' });
      expect((await chat(key)).status).toBe(200);
      const loaded = await namesAt(upstream.url, '/api/ps');
      expect(loaded).toEqual(['llama3.2:latest']);
      const [seeded] = await listed();
      expect(seeded!.status.health).toBe('up');

      await page.goto(`${gateway.adminUrl}/keys`);
      await page.getByTestId('nav-upstreams').click();
      const card = (name: string) => page.getByTestId(`upstream-${name}`);
      await card(seeded!.name).waitFor();
      expect((await page.getByTestId(`upstream-health-${seeded!.name}`).innerText()).toLowerCase()).toBe('up');
      for (const model of await namesAt(upstream.url, '/api/tags')) {
        const chip = page.getByTestId(`upstream-model-${seeded!.name}-${model}`);
        // The page refreshes by itself: no click between the poll and the mark.
        await eventually(async () => expect((await chip.innerText()).includes('loaded')).toBe(loaded.includes(model)), 10_000);
      }

      await page.getByTestId('upstream-create').click();
      await page.getByTestId('upstream-name-input').fill('gpu-two');
      await page.getByTestId('upstream-url-input').fill(second.url);
      await page.getByTestId('upstream-max-parallel-input').fill('2');
      await page.getByTestId('upstream-form-submit').click();
      await card('gpu-two').waitFor();
      await eventually(async () => {
        expect((await page.getByTestId('upstream-health-gpu-two').innerText()).toLowerCase()).toBe('up');
        expect(await page.getByTestId('upstream-models-gpu-two').innerText()).toContain('mistral:7b');
      }, 10_000);
      expect(await page.getByTestId('upstream-slots-gpu-two').innerText()).toBe('0 / 2');
      expect((await listed()).find((u) => u.name === 'gpu-two')).toMatchObject({ max_parallel: 2, enabled: true });

      await page.getByTestId('upstream-edit-gpu-two').click();
      expect(await page.getByTestId('upstream-url-input').inputValue()).toBe(second.url);
      await page.getByTestId('upstream-max-parallel-input').fill('3');
      await page.getByTestId('upstream-form-submit').click();
      await eventually(async () => expect(await page.getByTestId('upstream-slots-gpu-two').innerText()).toBe('0 / 3'), 10_000);
      expect((await listed()).find((u) => u.name === 'gpu-two')?.max_parallel).toBe(3);

      await page.getByTestId('upstream-disable-gpu-two').click();
      await eventually(async () => expect((await page.getByTestId('upstream-health-gpu-two').innerText()).toLowerCase()).toBe('disabled'), 10_000);
      expect((await listed()).find((u) => u.name === 'gpu-two')).toMatchObject({ enabled: false, status: { health: 'disabled' } });
      await page.getByTestId('upstream-enable-gpu-two').waitFor();

      for (const [name, viewport] of [
        ['laptop', { width: 1366, height: 768 }],
        ['phone', { width: 390, height: 844 }],
      ] as const) {
        await page.setViewportSize(viewport);
        await card('gpu-two').scrollIntoViewIfNeeded();
        // In the page (a string: this file is compiled without the DOM's types); `wide` names what sticks out.
        const widths = (await page.evaluate(`({
          scroll: document.documentElement.scrollWidth,
          inner: window.innerWidth,
          wide: [...document.querySelectorAll('body *')]
            .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5)
            .map((element) => element.tagName.toLowerCase() + '.' + [...element.classList].join('.')),
        })`)) as { scroll: number; inner: number; wide: string[] };
        expect([name, widths.scroll <= widths.inner, widths.scroll <= widths.inner ? [] : widths.wide]).toEqual([name, true, []]);
        expect(await layoutProblems(page, '[data-testid="upstream-gpu-two"]', 'h2, .status, .breaker, .url, dt, dd, h3, .model, button')).toEqual([]);
        await page.screenshot({ path: join(ARTIFACTS, `admin-upstreams-${name}.png`), fullPage: true });
      }
      await page.setViewportSize({ width: 1400, height: 900 });

      await page.getByTestId('upstream-remove-gpu-two').click();
      await page.getByTestId('confirm-ok').click();
      await card('gpu-two').waitFor({ state: 'detached' });
      expect((await listed()).map((u) => u.name)).toEqual([seeded!.name]);
      expect(consoleErrors).toEqual([]);
    } finally {
      page.off('console', onConsole);
      await page.setViewportSize({ width: 1400, height: 900 });
      await second.close();
    }
  });

  it('keeps the session across a reload and returns to login after logout', async () => {
    await page.goto(`${gateway.adminUrl}/keys`);
    await page.getByTestId('key-table').waitFor();
    await page.reload();
    await page.getByTestId('key-table').waitFor();
    await page.getByTestId('logout').click();
    await page.getByTestId('login-password').waitFor();
    expect(page.url()).toContain('/login');
  });
});
