import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startFakeOllama, type FakeOllama } from '../upstream/fake-ollama.js';
import { ARTIFACTS, describeInBrowser, launchChromium } from '../support/browser.js';
import { testDatabases } from '../support/databases.js';
import { ADMIN_PASSWORD, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const describeBrowser = describeInBrowser('the browser test', { needsAdminUi: true });

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
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await upstream?.close();
  });

  /**
   * Opens a dialog as a person does: clicks, then waits until the dialog is up with the caret in it
   * (they type once they see it). A fill sent earlier raced the dialog's own first focus on a loaded
   * machine, and a value read earlier could come before the form was bound.
   */
  const openDialog = async (testId: string) => {
    await page.getByTestId(testId).click();
    await page.waitForFunction(`(() => {
      const dialogs = [...document.querySelectorAll('mat-dialog-container')].filter((d) => !d.classList.contains('mdc-dialog--closing'));
      const dialog = dialogs[dialogs.length - 1];
      return dialog !== undefined && dialog.contains(document.activeElement);
    })()`);
  };

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

    // The overview is the first page after login.
    await page.getByTestId('overview-requests-today').waitFor();
    expect(new URL(page.url()).pathname).toBe('/overview');
    await page.getByTestId('nav-keys').click();
    await openDialog('key-create');
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
    await openDialog('key-quota-browser-user');
    await page.getByTestId('quota-daily-requests-input').fill('5');
    await page.getByTestId('quota-submit').click();
    await eventually(async () => {
      expect(await page.getByTestId('key-usage-daily-requests-browser-user').innerText()).toContain('1 of 5');
    }, 10_000);
    await page.screenshot({ path: join(ARTIFACTS, 'admin-keys.png'), fullPage: true });
    const keys = (await (await gateway.admin('/api/api-keys')).json()) as { name: string; daily_request_limit: number | null; queue_weight: number }[];
    expect(keys.find((k) => k.name === 'browser-user')).toMatchObject({ daily_request_limit: 5, queue_weight: 3 });

    // The edit dialog shows the weight and changes it.
    await openDialog('key-edit-browser-user');
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

      await openDialog('upstream-create');
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

      await openDialog('upstream-edit-gpu-two');
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

  describe.each([
    ['laptop', { width: 1366, height: 768 }],
    ['phone', { width: 390, height: 844 }],
  ] as const)('at %s size', (size, viewport) => {
    /** Console errors and uncaught page errors since the test began: each step fails on any. */
    const errors: string[] = [];
    const onConsole = (message: { type(): string; text(): string }) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`);
    };
    const onPageError = (error: Error) => errors.push(`page error: ${error.message}`);
    const name = `a-rather-long-key-name-on-the-${size}`;

    beforeAll(async () => {
      page.on('console', onConsole);
      page.on('pageerror', onPageError);
      await page.setViewportSize(viewport);
      const { key } = await gateway.createKey({ name, daily_request_limit: 100, monthly_token_limit: 1_000_000, allowed_models: ['llama3.2'] });
      expect((await chat(key)).status).toBe(200);
      await page.goto(`${gateway.adminUrl}/keys`);
      if (await page.getByTestId('login-password').isVisible().catch(() => false)) {
        await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
        await page.getByTestId('login-submit').click();
      }
      await page.getByTestId(`key-row-${name}`).waitFor();
    });

    afterAll(async () => {
      page.off('console', onConsole);
      page.off('pageerror', onPageError);
      await page.setViewportSize({ width: 1400, height: 900 });
    });

    /** What is wrong with the page as a whole: sideways scrolling, "undefined" in its text, errors so far. */
    const pageProblems = async (step: string) => {
      const found = (await page.evaluate(`({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
        wide: [...document.querySelectorAll('body *')]
          .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 1)
          .slice(0, 3)
          .map((element) => element.tagName.toLowerCase() + '.' + [...element.classList].join('.')),
        // A box of the page that scrolls sideways hides part of it (a clipped Delete).
        scrolled: [...document.querySelectorAll('main *')]
          .filter((element) => ['auto', 'scroll'].includes(getComputedStyle(element).overflowX) && element.scrollWidth > element.clientWidth + 1)
          .map((element) => element.tagName.toLowerCase() + '.' + [...element.classList].join('.')),
        undefinedText: /undefined/.test(document.body.innerText),
      })`)) as { scroll: number; inner: number; wide: string[]; scrolled: string[]; undefinedText: boolean };
      const problems: string[] = [];
      if (found.scroll > found.inner) problems.push(`scrolls sideways (${found.scroll} > ${found.inner}): ${found.wide.join(', ')}`);
      if (found.scrolled.length > 0) problems.push(`scrolls inside: ${found.scrolled.join(', ')}`);
      if (found.undefinedText) problems.push('says "undefined"');
      problems.push(...errors.splice(0));
      return [step, problems];
    };
    const sound = async (step: string) => expect(await pageProblems(step)).toEqual([step, []]);

    /** Helper texts and labels that run into another field, and labels cut short ("Requests pe…"). */
    const formProblems = async (container: string) =>
      (await page.evaluate(`(() => {
        const fields = [...document.querySelectorAll(${JSON.stringify(container)} + ' mat-form-field')];
        const box = (element) => element.getBoundingClientRect();
        const meet = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
        const text = (element) => element.textContent.trim().slice(0, 30);
        const problems = [];
        for (const field of fields) {
          const below = [...field.querySelectorAll('mat-hint, mat-error')].filter((element) => box(element).height > 0);
          for (const other of fields.filter((other) => other !== field)) {
            const parts = [...other.querySelectorAll('.mdc-text-field, .mdc-floating-label--float-above, mat-hint, mat-error')];
            for (const hint of below) for (const part of parts) if (meet(box(hint), box(part))) problems.push('"' + text(hint) + '" runs into "' + text(other.querySelector('mat-label') ?? other) + '"');
          }
          const label = field.querySelector('mat-label');
          if (label && label.parentElement.scrollWidth > label.parentElement.clientWidth + 1) problems.push('"' + text(label) + '" is cut');
        }
        return [...new Set(problems)];
      })()`)) as string[];
    // Getters: `page` exists only once the suite's beforeAll ran.
    const dialog = { waitFor: (options?: { state: 'detached' }) => page.locator('mat-dialog-container').waitFor(options), count: () => page.locator('mat-dialog-container').count(), innerText: () => page.locator('mat-dialog-container').innerText() };
    const snackbar = { texts: () => page.locator('mat-snack-bar-container').allInnerTexts(), innerText: () => page.locator('mat-snack-bar-container').innerText() };
    /** Cancel, then Escape: each closes the dialog and reports nothing. */
    const cancelAndEscape = async (open: () => Promise<unknown>, cancel: string, step: string) => {
      await open();
      await dialog.waitFor();
      expect([step, await formProblems('mat-dialog-container')]).toEqual([step, []]);
      await page.screenshot({ path: join(ARTIFACTS, `admin-${step}-${size}.png`) });
      await sound(`${step} open`);
      await page.getByTestId(cancel).click();
      await dialog.waitFor({ state: 'detached' });
      await page.waitForTimeout(300);
      expect(await dialog.count()).toBe(0);
      await sound(`${step} cancelled`);
      await open();
      await dialog.waitFor();
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      await page.waitForTimeout(300);
      expect(await dialog.count()).toBe(0);
      await sound(`${step} escaped`);
    };
    /** A row's actions: Edit and Quota at hand, the rest in the row's menu. */
    const rowAction = async (key: string, action: string) => {
      const direct = page.getByTestId(`key-${action}-${key}`);
      if (!(await direct.isVisible())) await page.getByTestId(`key-menu-${key}`).click();
      await direct.click();
    };

    it('shows the keys, with each key\'s name beside its actions and its prefix on one line', async () => {
      await page.goto(`${gateway.adminUrl}/keys`);
      const row = page.getByTestId(`key-row-${name}`);
      await row.waitFor();
      await sound('keys');
      const rowBox = (await row.boundingBox())!;
      const edit = (await page.getByTestId(`key-edit-${name}`).boundingBox())!;
      const menu = (await page.getByTestId(`key-menu-${name}`).boundingBox())!;
      const label = (await row.locator('.name').boundingBox())!;
      for (const box of [edit, menu, label]) {
        expect(box.x >= rowBox.x - 1 && box.x + box.width <= Math.min(rowBox.x + rowBox.width, viewport.width) + 1).toBe(true);
        expect(box.y >= rowBox.y - 1 && box.y + box.height <= rowBox.y + rowBox.height + 1).toBe(true);
      }
      // One line box: the prefix does not wrap.
      expect(await page.evaluate(`document.querySelector('[data-testid="key-prefix-${name}"]').getClientRects().length`)).toBe(1);
      await page.screenshot({ path: join(ARTIFACTS, `admin-keys-${size}.png`), fullPage: true });
    });

    it('creates a key from the New key dialog, which Cancel and Escape close without a secret dialog', async () => {
      await page.goto(`${gateway.adminUrl}/keys`);
      await page.getByTestId(`key-row-${name}`).waitFor();
      await cancelAndEscape(() => openDialog('key-create'), 'key-form-cancel', 'new-key');
      expect(await page.getByText('Key created').count()).toBe(0);
      await openDialog('key-create');
      await page.getByTestId('key-name-input').fill(`${size}-spare`);
      await page.getByTestId('key-create-submit').click();
      expect(await page.getByTestId('new-key-value').innerText()).toMatch(/^sk-/);
      await page.getByTestId('new-key-snippets').waitFor();
      expect(await dialog.innerText()).toContain(`Key created: ${size}-spare`);
      await sound('new key shown');
      // The one dialog Escape does not close, on purpose: the secret cannot be shown again.
      await page.keyboard.press('Escape');
      await page.waitForTimeout(300);
      expect(await dialog.count()).toBe(1);
      await page.getByTestId('new-key-close').click();
      await dialog.waitFor({ state: 'detached' });
      await page.getByTestId(`key-row-${size}-spare`).waitFor();
      await sound('new key created');
    });

    it('edits a key, whose dialog Cancel and Escape close without a word', async () => {
      await cancelAndEscape(() => openDialog(`key-edit-${name}`), 'key-form-cancel', 'edit-key');
      expect(await snackbar.texts()).not.toContainEqual(expect.stringContaining('Saved'));
      await openDialog(`key-edit-${name}`);
      await page.getByTestId('key-queue-weight-input').fill('2');
      await page.getByTestId('key-edit-submit').click();
      await eventually(async () => expect(await snackbar.innerText()).toContain(`Saved ${name}.`), 5_000);
      await sound('edit saved');
    });

    it('sets a quota, whose dialog shows its labels whole and Cancel and Escape close without a word', async () => {
      await cancelAndEscape(() => openDialog(`key-quota-${name}`), 'quota-cancel', 'quota');
      expect(await page.getByText('Saved the quota').count()).toBe(0);
      await openDialog(`key-quota-${name}`);
      await page.getByTestId('quota-daily-requests-input').fill('50');
      await page.getByTestId('quota-submit').click();
      await eventually(async () => expect(await snackbar.innerText()).toContain(`Saved the quota of ${name}.`), 5_000);
      await eventually(async () => expect(await page.getByTestId(`key-usage-daily-requests-${name}`).innerText()).toContain('1 of 50'), 5_000);
      await sound('quota saved');
    });

    it('deletes a key after the confirm dialog, which Cancel and Escape close without deleting', async () => {
      await cancelAndEscape(() => rowAction(`${size}-spare`, 'delete'), 'confirm-cancel', 'confirm-delete');
      expect(await page.getByTestId(`key-row-${size}-spare`).count()).toBe(1);
      await rowAction(`${size}-spare`, 'delete');
      await page.getByTestId('confirm-ok').click();
      await page.getByTestId(`key-row-${size}-spare`).waitFor({ state: 'detached' });
      await eventually(async () => expect(await snackbar.innerText()).toContain(`Deleted ${size}-spare.`), 5_000);
      await sound('key deleted');
    });

    it('shows the overview: today, the last hour, the servers and the key nearest its limit', async () => {
      await page.getByTestId('nav-overview').click();
      await page.getByTestId('overview-rpm').waitFor();
      await page.getByTestId(`overview-near-${name}`).waitFor();
      expect(await page.getByTestId('overview-upstream-ollama').innerText()).toContain('up');
      await sound('overview');
      await page.screenshot({ path: join(ARTIFACTS, `admin-overview-${size}.png`), fullPage: true });
    });

    it('shows the accounts page with its form fitting', async () => {
      await page.getByTestId('nav-accounts').click();
      await page.getByTestId('account-create-form').waitFor();
      await sound('accounts');
      expect(await formProblems('app-accounts-page')).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, `admin-accounts-${size}.png`), fullPage: true });
    });

    it('shows the alerts page: its form, a webhook with a long URL and its delivery fitting', async () => {
      const created = await gateway.admin('/api/alerts/webhooks', {
        method: 'POST',
        body: JSON.stringify({ name: `alerts-${size}`, url: `http://127.0.0.1:9/services/T0000000000/B0000000000/${'x'.repeat(60)}`, format: 'slack', events: ['upstream.down'] }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: number };
      await page.getByTestId('nav-alerts').click();
      await page.getByTestId('webhook-form').waitFor();
      await page.getByTestId(`webhook-test-${id}`).click();
      await page.getByTestId('deliveries-list').getByText(`alerts-${size}`).first().waitFor();
      await sound('alerts');
      expect(await formProblems('app-alerts-page')).toEqual([]);
      await page.screenshot({ path: join(ARTIFACTS, `admin-alerts-${size}.png`), fullPage: true });
    });

    it('shows usage', async () => {
      await page.getByTestId('nav-usage').click();
      await page.getByTestId('usage-chart').locator('canvas').waitFor();
      await page.getByTestId('usage-breakdown').waitFor();
      await sound('usage');
      await page.screenshot({ path: join(ARTIFACTS, `admin-usage-${size}.png`), fullPage: true });
    });

    it('shows settings with no hint running into a field, and one plain error for an Ollama URL that does not answer', async () => {
      await page.getByTestId('nav-settings').click();
      await page.getByTestId('settings-save').waitFor();
      await sound('settings');
      expect(await formProblems('app-settings-page')).toEqual([]);
      await page.getByTestId('settings-ollama-url').fill('http://127.0.0.1:9');
      await page.getByTestId('settings-save').click();
      const alerts = page.locator('app-settings-page [role="alert"], app-settings-page [role="status"]');
      await eventually(async () => expect(await alerts.count()).toBeGreaterThan(0), 5_000);
      await page.waitForTimeout(300);
      const said = await alerts.allInnerTexts();
      expect(said).toEqual([expect.stringContaining('Nothing was saved')]);
      expect(said[0]).toContain('Save the URL even if Ollama does not answer');
      expect(said[0]).not.toContain('save_unreachable');
      // Nor a snackbar saying it again.
      expect(await page.getByText(/unreachable/).count()).toBe(1);
      // The browser logs the refused PUT itself; nothing else may be logged.
      expect(errors.splice(0)).toEqual([expect.stringMatching(/Failed to load resource: .*400/)]);
      await sound('settings refused');
      await page.screenshot({ path: join(ARTIFACTS, `admin-settings-refused-${size}.png`), fullPage: true });
      expect(((await (await gateway.admin('/api/settings')).json()) as { ollama_url: string }).ollama_url).toBe(upstream.url);
    });

    it('shows the audit log with the changes readable', async () => {
      await page.getByTestId('nav-audit').click();
      await page.locator('[data-testid^="audit-row-"]').first().waitFor();
      await sound('audit');
      // Wide enough for words, not one character a line.
      const widths = (await page.evaluate(`[...document.querySelectorAll('pre.changes')].map((element) => element.getBoundingClientRect().width)`)) as number[];
      expect(widths.length).toBeGreaterThan(0);
      expect(Math.min(...widths)).toBeGreaterThan(150);
      await page.screenshot({ path: join(ARTIFACTS, `admin-audit-${size}.png`), fullPage: true });
    });

    it('adds and removes an upstream from its form, which Cancel and Escape close without a word', async () => {
      await page.getByTestId('nav-upstreams').click();
      await page.getByTestId('upstream-list').waitFor();
      await sound('upstreams');
      await cancelAndEscape(() => openDialog('upstream-create'), 'upstream-form-cancel', 'upstream-form');
      expect(await snackbar.texts()).not.toContainEqual(expect.stringMatching(/Added|Saved/));
      await openDialog('upstream-create');
      await page.getByTestId('upstream-name-input').fill(`spare-${size}`);
      await page.getByTestId('upstream-url-input').fill(`${upstream.url}/`);
      await page.getByTestId('upstream-form-submit').click();
      await page.getByTestId(`upstream-spare-${size}`).waitFor();
      await eventually(async () => expect(await snackbar.innerText()).toContain(`Added spare-${size}.`), 5_000);
      await sound('upstream added');
      await page.getByTestId(`upstream-remove-spare-${size}`).click();
      await page.getByTestId('confirm-ok').click();
      await page.getByTestId(`upstream-spare-${size}`).waitFor({ state: 'detached' });
      await sound('upstream removed');
    });
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

  it('an admin creates a viewer on the Accounts page; the viewer sees the keys without a single write button', async () => {
    await gateway.createKey({ name: 'seen-by-a-viewer' });
    await page.goto(`${gateway.adminUrl}/login`);
    await page.getByTestId('login-username').fill('admin');
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('overview-requests-today').waitFor();
    await page.getByTestId('nav-accounts').click();
    await page.getByTestId('account-create-form').waitFor();
    await page.getByTestId('account-username').fill('vera');
    await page.getByTestId('account-password').fill('vera-browser-password-01');
    await page.getByTestId('account-create').click();
    await page.getByTestId('account-vera').waitFor();
    expect(await page.getByTestId('account-role-vera').innerText()).toBe('viewer');
    await page.screenshot({ path: join(ARTIFACTS, 'admin-accounts.png'), fullPage: true });
    for (const viewport of [{ width: 1366, height: 768 }, { width: 390, height: 844 }]) {
      await page.setViewportSize(viewport);
      // In the page (a string: this file is compiled without the DOM's types).
      expect([viewport.width, await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')]).toEqual([viewport.width, true]);
      expect(await layoutProblems(page, '[data-testid="account-vera"]', 'strong, .role, .hint, button')).toEqual([]);
      expect(await layoutProblems(page, '[data-testid="account-create-form"]', 'mat-form-field, button')).toEqual([]);
      if (viewport.width === 390) await page.screenshot({ path: join(ARTIFACTS, 'admin-accounts-phone.png'), fullPage: true });
    }
    await page.setViewportSize({ width: 1400, height: 900 });
    await page.getByTestId('logout').click();

    await page.getByTestId('login-username').fill('vera');
    await page.getByTestId('login-password').fill('vera-browser-password-01');
    await page.getByTestId('login-submit').click();
    // A viewer lands on the overview too (reading is all it does), then opens the keys.
    await page.getByTestId('overview-requests-today').waitFor();
    await page.getByTestId('nav-keys').click();
    await page.getByTestId('key-table').waitFor();
    await page.getByTestId('viewer-notice').waitFor();
    expect(await page.getByTestId('signed-in-as').innerText()).toContain('vera');
    await page.getByTestId('key-row-seen-by-a-viewer').waitFor();
    for (const write of ['key-create', 'key-edit-', 'key-quota-', 'key-rotate-', 'key-activate-', 'key-deactivate-', 'key-delete-', 'nav-accounts']) {
      expect([write, await page.locator(`[data-testid^="${write}"]`).count()]).toEqual([write, 0]);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'admin-keys-viewer.png'), fullPage: true });
    // The Accounts page is not there for a viewer, even by its address.
    await page.goto(`${gateway.adminUrl}/accounts`);
    await page.getByTestId('key-table').waitFor();
    expect(new URL(page.url()).pathname).toBe('/keys');
    // Its own password it may change (from its name in the top bar).
    await page.getByTestId('signed-in-as').click();
    await page.getByTestId('password-current').fill('vera-browser-password-01');
    await page.getByTestId('password-new').fill('vera-browser-password-02');
    await page.getByTestId('password-repeat').fill('vera-browser-password-02');
    await page.getByTestId('password-submit').click();
    await page.getByTestId('password-done').waitFor();
    await page.getByTestId('logout').click();
    await page.getByTestId('login-username').fill('vera');
    await page.getByTestId('login-password').fill('vera-browser-password-02');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('overview-requests-today').waitFor();
    await page.getByTestId('nav-keys').click();
    await page.getByTestId('viewer-notice').waitFor();
    await page.getByTestId('logout').click();
    await page.getByTestId('login-password').waitFor();
    const audit = (await (await gateway.admin('/api/audit')).json()) as { action: string; actor: string | null; target_name: string | null }[];
    expect(audit.find((row) => row.action === 'account.create' && row.target_name === 'vera')?.actor).toBe('admin');
  });
});
