import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { setUpApi, submitWith } from '../../../testing/api-testing';
import type { AlertDeliveryView, AlertWebhookView } from '../../api/admin-api.types';
import { SessionService } from '../../core/session.service';
import { ALERTS_REFRESH_MS, AlertsPage, EVENT_LABELS } from './alerts.page';

const AT = '2026-12-04T10:00:00.000Z';
const ALL_EVENTS = Object.keys(EVENT_LABELS);
const webhook = (overrides: Partial<AlertWebhookView> = {}): AlertWebhookView => ({
  id: 1,
  name: 'ops',
  url: 'https://hooks.example.com/ops',
  format: 'json',
  events: ALL_EVENTS as AlertWebhookView['events'],
  enabled: true,
  has_secret: true,
  created_at: AT,
  updated_at: AT,
  ...overrides,
});
const delivery = (overrides: Partial<AlertDeliveryView> = {}): AlertDeliveryView => ({
  id: 10,
  webhook_id: 1,
  webhook_name: 'ops',
  event: 'key.quota_80',
  status: 'delivered',
  attempts: 1,
  next_attempt_at: null,
  last_error: null,
  last_status: 200,
  summary: 'Key "ci" (id 3) used 80 % of its daily request limit: 4 of 5.',
  created_at: AT,
  updated_at: AT,
  ...overrides,
});

describe('AlertsPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<AlertsPage>;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => document.querySelector<T>(`[data-testid="${id}"]`);
  const text = (id: string) => byTestId(id)?.textContent?.replace(/\s+/g, ' ').trim();
  const settle = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await fixture.whenStable();
  };
  const type = async (id: string, value: string) => {
    const input = byTestId<HTMLInputElement>(id)!;
    input.value = value;
    input.dispatchEvent(new Event('input'));
    await settle();
  };
  const flushLists = async (webhooks: AlertWebhookView[], deliveries: AlertDeliveryView[]) => {
    http.expectOne('/api/alerts/webhooks').flush(webhooks);
    http.expectOne((request) => request.url === '/api/alerts/deliveries').flush(deliveries);
    await settle();
  };
  const open = async (role: 'admin' | 'viewer', webhooks = [webhook()], deliveries = [delivery(), delivery({ id: 11, event: 'test', status: 'pending', attempts: 2, last_error: 'HTTP 503 Service Unavailable', last_status: 503, next_attempt_at: AT })]) => {
    TestBed.configureTestingModule({ providers: [{ provide: ALERTS_REFRESH_MS, useValue: 3_600_000 }] });
    ({ http } = setUpApi());
    TestBed.inject(SessionService).setAccount({ username: role === 'admin' ? 'alice' : 'vera', role });
    fixture = TestBed.createComponent(AlertsPage);
    document.body.appendChild(fixture.nativeElement as HTMLElement);
    await settle();
    await flushLists(webhooks, deliveries);
  };

  afterEach(() => {
    http.verify();
    (fixture.nativeElement as HTMLElement).remove();
  });

  it('lists the webhooks (signed or not, never a secret) and the deliveries with status, attempts and last error', async () => {
    await open('admin');
    expect(text('webhook-1')).toContain('ops');
    expect(text('webhook-1')).toContain('signed');
    expect(text('webhook-1')).toContain('Every event');
    expect(text('delivery-status-10')).toBe('delivered');
    expect(text('delivery-attempts-11')).toBe('2 attempts');
    expect(text('delivery-error-11')).toBe('Last error: HTTP 503 Service Unavailable');
    expect(text('delivery-10')).toContain('Key at 80 % of a limit');
  });

  it('adds a webhook with its secret and chosen events', async () => {
    await open('admin', [], []);
    expect(byTestId('webhooks-empty')).not.toBeNull();
    await type('webhook-name', 'slack');
    await type('webhook-url', 'https://hooks.slack.com/services/T/B/X');
    await type('webhook-secret', 'a-signing-secret');
    byTestId('webhook-event-database.error')!.querySelector('input')!.click();
    await settle();
    submitWith(byTestId<HTMLButtonElement>('webhook-save')!);
    const request = http.expectOne({ method: 'POST', url: '/api/alerts/webhooks' });
    expect(request.request.body).toEqual({
      name: 'slack',
      url: 'https://hooks.slack.com/services/T/B/X',
      format: 'json',
      secret: 'a-signing-secret',
      events: ALL_EVENTS.filter((e) => e !== 'database.error'),
    });
    request.flush(webhook({ id: 2, name: 'slack' }));
    await settle();
    expect(text('webhook-2')).toContain('slack');
    expect(byTestId<HTMLInputElement>('webhook-secret')!.value).toBe('');
    expect(text('alerts-notice')).toBe('Added slack.');
  });

  it('refuses a URL that is not http(s) before sending', async () => {
    await open('admin', [], []);
    await type('webhook-name', 'x');
    await type('webhook-url', 'ftp://example.com');
    expect(byTestId<HTMLButtonElement>('webhook-save')!.disabled).toBe(true);
  });

  it('edits a webhook without sending its secret unless a new one is typed', async () => {
    await open('admin');
    byTestId('webhook-edit-1')!.click();
    await settle();
    expect(byTestId<HTMLInputElement>('webhook-name')!.value).toBe('ops');
    expect(byTestId<HTMLInputElement>('webhook-secret')!.value).toBe('');
    await type('webhook-name', 'ops-2');
    submitWith(byTestId<HTMLButtonElement>('webhook-save')!);
    const request = http.expectOne({ method: 'PATCH', url: '/api/alerts/webhooks/1' });
    expect(request.request.body).toEqual({ name: 'ops-2', url: 'https://hooks.example.com/ops', format: 'json', events: ALL_EVENTS });
    request.flush(webhook({ name: 'ops-2' }));
    await settle();
    expect(text('alerts-notice')).toBe('Saved ops-2.');
  });

  it('sends a test and reloads the deliveries; shows a refusal on the row', async () => {
    await open('admin');
    byTestId('webhook-test-1')!.click();
    http.expectOne({ method: 'POST', url: '/api/alerts/webhooks/1/test' }).flush(delivery({ id: 12, event: 'test', status: 'pending', attempts: 0 }));
    await settle();
    await flushLists([webhook()], [delivery({ id: 12, event: 'test' })]);
    expect(text('alerts-notice')).toContain('Test alert queued for ops');
    expect(text('delivery-12')).toContain('Test');

    byTestId('webhook-toggle-1')!.click();
    http.expectOne({ method: 'PATCH', url: '/api/alerts/webhooks/1' }).flush({ statusCode: 404, message: 'alert webhook 1 not found' }, { status: 404, statusText: 'Not Found' });
    await settle();
    expect(text('webhook-error-1')).toBe('alert webhook 1 not found');
  });

  it('removes a webhook only after confirmation', async () => {
    await open('admin');
    byTestId('webhook-delete-1')!.click();
    await settle();
    byTestId('confirm-cancel')!.click();
    await settle();
    http.expectNone({ method: 'DELETE' });
    byTestId('webhook-delete-1')!.click();
    await settle();
    byTestId('confirm-ok')!.click();
    await settle();
    http.expectOne({ method: 'DELETE', url: '/api/alerts/webhooks/1' }).flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    expect(byTestId('webhook-1')).toBeNull();
    expect(byTestId('delivery-10')).toBeNull();
  });

  it('shows a viewer the webhooks and deliveries without any write', async () => {
    await open('viewer');
    expect(byTestId('viewer-notice')).not.toBeNull();
    expect(byTestId('webhook-1')).not.toBeNull();
    expect(byTestId('delivery-11')).not.toBeNull();
    for (const id of ['webhook-form', 'webhook-test-1', 'webhook-edit-1', 'webhook-toggle-1', 'webhook-delete-1']) expect(byTestId(id)).toBeNull();
  });
});
