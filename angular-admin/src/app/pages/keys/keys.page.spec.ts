import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { setUpApi, submitWith } from '../../../testing/api-testing';
import type { ApiKeyWithUsage } from '../../api/admin-api.types';
import { KeysPage } from './keys.page';

const WINDOW = { requests: 0, tokens: 0, reserved_tokens: 0, request_limit: null, token_limit: null, resets_at: '2030-01-02T00:00:00+00:00' };
const KEY: ApiKeyWithUsage = {
  id: 5,
  name: 'ci',
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
  usage: { day: WINDOW, month: WINDOW },
};
const PROXY_INFO = {
  proxy_url: 'http://gw:8000',
  ollama_base_url: 'http://gw:8000',
  openai_base_url: 'http://gw:8000/v1',
  anthropic_base_url: 'http://gw:8000',
  admin_url: 'http://gw:8001',
};

/** The page with its dialogs, against the fake API: the flows a person (and the browser test) goes through. */
describe('KeysPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<KeysPage>;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => document.querySelector<T>(`[data-testid="${id}"]`);
  const settle = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await fixture.whenStable();
  };
  /** Opens the quota dialog of 'ci', sets 7 daily requests and saves. */
  const setDailyRequestsTo7 = async () => {
    byTestId('key-quota-ci')!.click();
    await settle();
    const input = byTestId<HTMLInputElement>('quota-daily-requests-input')!;
    input.value = '7';
    input.dispatchEvent(new Event('input'));
    await settle();
    submitWith(byTestId<HTMLButtonElement>('quota-submit')!);
    await settle();
  };

  beforeEach(async () => {
    ({ http } = setUpApi());
    fixture = TestBed.createComponent(KeysPage);
    http.expectOne('/api/api-keys').flush([KEY]);
    await fixture.whenStable();
  });

  afterEach(() => {
    http.verify();
    document.querySelectorAll('.cdk-overlay-container').forEach((node) => node.remove());
  });

  it('creates a key and shows its plaintext once, with snippets from /api/proxy-info', async () => {
    byTestId('key-create')!.click();
    await settle();
    http.expectOne('/api/ollama-models').flush({ models: [{ name: 'qwen3:8b' }] });
    const name = byTestId<HTMLInputElement>('key-name-input')!;
    name.value = 'new-key';
    name.dispatchEvent(new Event('input'));
    const dailyRequests = byTestId<HTMLInputElement>('key-daily-requests-input')!;
    dailyRequests.value = '100';
    dailyRequests.dispatchEvent(new Event('input'));
    await settle();
    submitWith(byTestId<HTMLButtonElement>('key-create-submit')!);
    await settle();

    const create = http.expectOne({ method: 'POST', url: '/api/api-keys' });
    expect(create.request.body).toEqual({ name: 'new-key', daily_request_limit: 100 });
    create.flush({ ...KEY, id: 6, name: 'new-key', key: 'sk-plaintext-secret' });
    await settle();

    http.expectOne('/api/api-keys').flush([KEY, { ...KEY, id: 6, name: 'new-key' }]);
    http.expectOne('/api/proxy-info').flush(PROXY_INFO);
    http.expectOne('/api/settings').flush({ ollama_url: 'http://localhost:11434', default_model: 'qwen3:8b', model_aliases: {}, num_ctx: 4096 });
    http.expectOne('/api/ollama-models').flush({ models: [{ name: 'llama3.2:latest' }] });
    await settle();

    expect(byTestId('new-key-value')!.textContent).toBe('sk-plaintext-secret');
    expect(byTestId('snippet-curl')!.textContent).toContain('http://gw:8000/v1/chat/completions');
    expect(byTestId('snippet-curl')!.textContent).toContain('"model":"qwen3:8b"');
    expect(byTestId('key-row-new-key')).not.toBeNull();
  });

  it('sets the queue weight of a new key and of an edited one, sending it only when it differs', async () => {
    byTestId('key-create')!.click();
    await settle();
    http.expectOne('/api/ollama-models').flush({ models: [] });
    const weight = () => byTestId<HTMLInputElement>('key-queue-weight-input')!;
    expect(weight().value).toBe('1');
    expect(document.body.textContent).toContain('share of the GPU queue when keys wait: 2 = twice the turns of a key with 1');
    const name = byTestId<HTMLInputElement>('key-name-input')!;
    name.value = 'heavy';
    name.dispatchEvent(new Event('input'));
    for (const bad of ['0', '101', '1.5']) {
      weight().value = bad;
      weight().dispatchEvent(new Event('input'));
      await settle();
      expect([bad, byTestId<HTMLButtonElement>('key-create-submit')!.disabled]).toEqual([bad, true]);
    }
    weight().value = '3';
    weight().dispatchEvent(new Event('input'));
    await settle();
    submitWith(byTestId<HTMLButtonElement>('key-create-submit')!);
    await settle();
    const create = http.expectOne({ method: 'POST', url: '/api/api-keys' });
    expect(create.request.body).toEqual({ name: 'heavy', queue_weight: 3 });
    create.flush({ ...KEY, id: 6, name: 'heavy', queue_weight: 3, key: 'sk-plaintext-secret' });
    await settle();
    http.expectOne('/api/api-keys').flush([KEY, { ...KEY, id: 6, name: 'heavy', queue_weight: 3 }]);
    http.expectOne('/api/proxy-info').flush(PROXY_INFO);
    http.expectOne('/api/settings').flush({ ollama_url: 'http://localhost:11434', default_model: null, model_aliases: {}, num_ctx: 4096 });
    http.expectOne('/api/ollama-models').flush({ models: [{ name: 'mistral:7b' }, { name: 'qwen3:4b' }] });
    await settle();
    // No default model on this gateway: the snippets ask for a model its servers have.
    expect(byTestId('snippet-curl')!.textContent).toContain('"model":"mistral:7b"');
    expect(byTestId('key-weight-heavy')!.textContent).toContain('queue weight 3');
    expect(byTestId('key-weight-ci')).toBeNull();
    byTestId('new-key-close')!.click();
    await settle();

    byTestId('key-edit-heavy')!.click();
    await settle();
    http.expectOne('/api/ollama-models').flush({ models: [] });
    expect(weight().value).toBe('3');
    const rename = byTestId<HTMLInputElement>('key-name-input')!;
    rename.value = 'heavier';
    rename.dispatchEvent(new Event('input'));
    await settle();
    submitWith(byTestId<HTMLButtonElement>('key-edit-submit')!);
    await settle();
    // Unchanged: not sent.
    const rename$ = http.expectOne({ method: 'PATCH', url: '/api/api-keys/6' });
    expect(rename$.request.body).toEqual({ name: 'heavier' });
    rename$.flush({ ...KEY, id: 6, name: 'heavier', queue_weight: 3 });
    await settle();
    http.expectOne('/api/api-keys').flush([KEY, { ...KEY, id: 6, name: 'heavier', queue_weight: 3 }]);
    await settle();

    byTestId('key-edit-heavier')!.click();
    await settle();
    http.expectOne('/api/ollama-models').flush({ models: [] });
    weight().value = '1';
    weight().dispatchEvent(new Event('input'));
    await settle();
    submitWith(byTestId<HTMLButtonElement>('key-edit-submit')!);
    await settle();
    const reweigh = http.expectOne({ method: 'PATCH', url: '/api/api-keys/6' });
    expect(reweigh.request.body).toEqual({ queue_weight: 1 });
    reweigh.flush({ ...KEY, id: 6, name: 'heavier', queue_weight: 1 });
    await settle();
    http.expectOne('/api/api-keys').flush([KEY, { ...KEY, id: 6, name: 'heavier', queue_weight: 1 }]);
  });

  it('does nothing when the key and quota dialogs are cancelled', async () => {
    byTestId('key-create')!.click();
    await settle();
    http.expectOne('/api/ollama-models').flush({ models: [] });
    byTestId('key-form-cancel')!.click();
    await settle();
    byTestId('key-quota-ci')!.click();
    await settle();
    byTestId('quota-cancel')!.click();
    await settle();
    // No secret dialog (it would ask for the snippets' proxy info), no reload.
    http.expectNone('/api/proxy-info');
    http.expectNone('/api/api-keys');
    expect(byTestId('new-key-value')).toBeNull();
  });

  it('keeps the create dialog open with the server message when the key is refused', async () => {
    byTestId('key-create')!.click();
    await settle();
    http.expectOne('/api/ollama-models').flush({ models: [] });
    const name = byTestId<HTMLInputElement>('key-name-input')!;
    name.value = 'ci';
    name.dispatchEvent(new Event('input'));
    await settle();
    submitWith(byTestId<HTMLButtonElement>('key-create-submit')!);
    await settle();
    http.expectOne({ method: 'POST', url: '/api/api-keys' }).flush({ statusCode: 409, message: 'a key named ci exists', error: 'Conflict' }, { status: 409, statusText: 'Conflict' });
    await settle();
    expect(byTestId('key-form-error')!.textContent).toContain('a key named ci exists');
    expect(byTestId('key-create-submit')).not.toBeNull();
  });

  it('changes a quota through the quota dialog', async () => {
    await setDailyRequestsTo7();
    const request = http.expectOne({ method: 'PATCH', url: '/api/api-keys/5/quota' });
    expect(request.request.body).toEqual({ daily_request_limit: 7, monthly_request_limit: null, daily_token_limit: null, monthly_token_limit: null });
    request.flush({ ...KEY, daily_request_limit: 7 });
    await settle();
    http.expectOne('/api/api-keys').flush([KEY]);
  });

  /** Rotate, (de)activate and delete are in the row's menu. */
  const fromMenu = async (id: string) => {
    byTestId('key-menu-ci')!.click();
    await settle();
    byTestId(id)!.click();
    await settle();
  };

  it('deactivates a key and reloads the list', async () => {
    await fromMenu('key-deactivate-ci');
    await settle();
    http.expectOne({ method: 'PUT', url: '/api/api-keys/5/deactivate' }).flush({ ...KEY, is_active: false });
    await settle();
    http.expectOne('/api/api-keys').flush([{ ...KEY, is_active: false }]);
    await settle();
    expect(byTestId('key-status-ci')!.textContent!.trim()).toBe('inactive');
  });

  it('keeps the newest list when two reloads answer out of order', async () => {
    // A reload after deactivating is still unanswered when a quota change asks for another one.
    await fromMenu('key-deactivate-ci');
    http.expectOne({ method: 'PUT', url: '/api/api-keys/5/deactivate' }).flush({ ...KEY, is_active: false });
    await settle();
    const older = http.expectOne('/api/api-keys');
    await setDailyRequestsTo7();
    http.expectOne({ method: 'PATCH', url: '/api/api-keys/5/quota' }).flush({ ...KEY, is_active: false, daily_request_limit: 7 });
    await settle();
    http.expectOne('/api/api-keys').flush([{ ...KEY, is_active: false, daily_request_limit: 7, usage: { day: { ...WINDOW, request_limit: 7 }, month: WINDOW } }]);
    await settle();
    // The older answer arrives last; it must not put the list from before the quota change back.
    if (!older.cancelled) older.flush([{ ...KEY, is_active: false }]);
    await settle();
    expect(byTestId('key-usage-daily-requests-ci')!.textContent).toContain('of 7');
  });

  it('deletes only after confirmation', async () => {
    await fromMenu('key-delete-ci');
    byTestId('confirm-cancel')!.click();
    await settle();
    http.expectNone({ method: 'DELETE' });

    await fromMenu('key-delete-ci');
    byTestId('confirm-ok')!.click();
    await settle();
    http.expectOne({ method: 'DELETE', url: '/api/api-keys/5' }).flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    http.expectOne('/api/api-keys').flush([]);
  });
});
