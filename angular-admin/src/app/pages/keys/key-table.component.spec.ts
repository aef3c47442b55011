import { ComponentFixture, TestBed } from '@angular/core/testing';
import type { ApiKeyWithUsage, UsageWindow } from '../../api/admin-api.types';
import { KeyTableComponent } from './key-table.component';

const NOW = new Date('2025-03-30T12:00:00Z');

function window(overrides: Partial<UsageWindow> = {}): UsageWindow {
  return { requests: 0, tokens: 0, reserved_tokens: 0, request_limit: null, token_limit: null, resets_at: '2025-03-31T00:00:00+02:00', ...overrides };
}

function key(overrides: Partial<ApiKeyWithUsage>): ApiKeyWithUsage {
  return {
    id: 1,
    name: 'key',
    key_prefix: 'sk-abcd',
    is_active: true,
    expires_at: null,
    created_at: '2025-03-01T00:00:00Z',
    last_used_at: null,
    allowed_models: null,
    max_concurrent: null,
    queue_weight: 1,
    daily_token_limit: null,
    monthly_token_limit: null,
    daily_request_limit: null,
    monthly_request_limit: null,
    usage: { day: window(), month: window({ resets_at: '2025-04-01T00:00:00+02:00' }) },
    ...overrides,
  };
}

const KEYS: ApiKeyWithUsage[] = [
  key({
    id: 1,
    name: 'ci',
    daily_request_limit: 10,
    daily_token_limit: 1000,
    usage: {
      day: window({ requests: 4, tokens: 250, request_limit: 10, token_limit: 1000 }),
      month: window({ requests: 40, tokens: 9000, resets_at: '2025-04-01T00:00:00+02:00' }),
    },
  }),
  key({ id: 2, name: 'old', is_active: false }),
  key({ id: 3, name: 'gone', expires_at: '2025-03-29T00:00:00Z' }),
];

describe('KeyTableComponent', () => {
  let fixture: ComponentFixture<KeyTableComponent>;
  let element: HTMLElement;

  const byTestId = (id: string) => element.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  /** The row menu's items live in an overlay outside the table. */
  const menuItem = async (name: string, id: string) => {
    byTestId(`key-menu-${name}`)!.click();
    await fixture.whenStable();
    return document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  };
  const closeMenus = async () => {
    document.querySelectorAll<HTMLElement>('.cdk-overlay-backdrop').forEach((backdrop) => backdrop.click());
    await fixture.whenStable();
  };

  beforeEach(async () => {
    fixture = TestBed.createComponent(KeyTableComponent);
    fixture.componentRef.setInput('keys', KEYS);
    fixture.componentRef.setInput('now', NOW);
    await fixture.whenStable();
    element = fixture.nativeElement;
  });

  it('renders a row per key with its prefix', () => {
    expect(byTestId('key-row-ci')).not.toBeNull();
    expect(byTestId('key-row-old')).not.toBeNull();
    expect(byTestId('key-row-gone')).not.toBeNull();
    expect(byTestId('key-prefix-ci')!.textContent).toBe('sk-abcd…');
  });

  it('has five columns: name, status, today, this month and the actions', () => {
    const headers = [...element.querySelectorAll('th')].map((th) => th.textContent!.trim());
    expect(headers).toEqual(['Name', 'Status', 'Today', 'This month', 'Actions']);
    const today = byTestId('key-row-ci')!.querySelectorAll('td')[2]!;
    expect([...today.querySelectorAll('[data-testid^="key-usage-"]')].map((e) => e.getAttribute('data-testid'))).toEqual(['key-usage-daily-requests-ci', 'key-usage-daily-tokens-ci']);
    expect(byTestId('key-expiry-ci')!.textContent!.trim()).toBe('never expires');
    expect(byTestId('key-expiry-gone')!.textContent!.trim()).toMatch(/^expired 2025-03-(28|29)/);
  });

  it('keeps Edit and Quota in the row and the rest in a menu named after the key', async () => {
    expect(byTestId('key-edit-ci')).not.toBeNull();
    expect(byTestId('key-quota-ci')).not.toBeNull();
    expect(byTestId('key-delete-ci')).toBeNull();
    expect(byTestId('key-menu-ci')!.getAttribute('aria-label')).toBe('More actions for ci');
    expect(await menuItem('ci', 'key-delete-ci')).not.toBeNull();
    const items = [...document.querySelectorAll('[role="menuitem"]')].map((item) => item.textContent!.trim());
    expect(items).toEqual(['Rotate ci', 'Deactivate ci', 'Delete ci']);
    await closeMenus();
  });

  it('shows active, inactive and expired', () => {
    expect(byTestId('key-status-ci')!.textContent!.trim()).toBe('active');
    expect(byTestId('key-status-old')!.textContent!.trim()).toBe('inactive');
    expect(byTestId('key-status-gone')!.textContent!.trim()).toBe('expired');
  });

  it('draws a bar of used of limit for a limited quota', () => {
    const dailyRequests = byTestId('key-usage-daily-requests-ci')!;
    expect(dailyRequests.querySelector('[data-testid="quota-text"]')!.textContent!.trim()).toBe('4 of 10');
    expect(dailyRequests.querySelector('mat-progress-bar')!.getAttribute('aria-valuenow')).toBe('40');
    const dailyTokens = byTestId('key-usage-daily-tokens-ci')!;
    expect(dailyTokens.querySelector('[data-testid="quota-text"]')!.textContent!.trim()).toBe('250 of 1,000');
    expect(dailyTokens.querySelector('mat-progress-bar')!.getAttribute('aria-valuenow')).toBe('25');
  });

  it('says unlimited, without a bar, for a quota with no limit', () => {
    const monthlyTokens = byTestId('key-usage-monthly-tokens-ci')!;
    expect(monthlyTokens.querySelector('[data-testid="quota-text"]')!.textContent!.trim()).toBe('9,000 · unlimited');
    expect(monthlyTokens.querySelector('mat-progress-bar')).toBeNull();
    expect(byTestId('key-usage-daily-requests-old')!.textContent).toContain('unlimited');
  });

  it('shows when each window resets', () => {
    // In the server's zone (the offset of resets_at), whatever the browser's zone is.
    expect(byTestId('key-usage-daily-requests-ci')!.textContent).toContain('resets Mar 31, 00:00');
    expect(byTestId('key-usage-monthly-requests-ci')!.textContent).toMatch(/resets (Mar 31|Apr 1)/);
  });

  it('offers deactivate for an active key and activate for an inactive one, and emits the choice', async () => {
    const emitted: { name: string; active: boolean }[] = [];
    fixture.componentInstance.setActive.subscribe(({ key, active }) => emitted.push({ name: key.name, active }));
    expect(await menuItem('ci', 'key-activate-ci')).toBeNull();
    (await menuItem('ci', 'key-deactivate-ci'))!.click();
    await closeMenus();
    (await menuItem('old', 'key-activate-old'))!.click();
    await closeMenus();
    expect(emitted).toEqual([
      { name: 'ci', active: false },
      { name: 'old', active: true },
    ]);
  });

  it('emits edit, quota, rotate and delete for the row clicked', async () => {
    const seen: string[] = [];
    const component = fixture.componentInstance;
    component.edit.subscribe((k) => seen.push(`edit ${k.name}`));
    component.quota.subscribe((k) => seen.push(`quota ${k.name}`));
    component.rotate.subscribe((k) => seen.push(`rotate ${k.name}`));
    component.remove.subscribe((k) => seen.push(`delete ${k.name}`));
    byTestId('key-edit-ci')!.click();
    byTestId('key-quota-old')!.click();
    (await menuItem('gone', 'key-rotate-gone'))!.click();
    await closeMenus();
    (await menuItem('ci', 'key-delete-ci'))!.click();
    await closeMenus();
    expect(seen).toEqual(['edit ci', 'quota old', 'rotate gone', 'delete ci']);
  });

  it('updates statuses when the keys change', async () => {
    fixture.componentRef.setInput('keys', [key({ name: 'ci', is_active: false })]);
    await fixture.whenStable();
    expect(byTestId('key-status-ci')!.textContent!.trim()).toBe('inactive');
    expect(byTestId('key-row-old')).toBeNull();
  });

  it('says so when there are no keys', async () => {
    fixture.componentRef.setInput('keys', []);
    await fixture.whenStable();
    expect(byTestId('keys-empty')).not.toBeNull();
  });
});
