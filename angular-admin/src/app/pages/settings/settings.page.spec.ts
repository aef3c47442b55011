import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import type { Settings } from '../../api/admin-api.types';
import { setUpApi, submitWith } from '../../../testing/api-testing';
import { SettingsPage } from './settings.page';

const SETTINGS: Settings = {
  ollama_url: 'http://localhost:11434',
  default_model: 'qwen3:8b',
  model_aliases: { 'claude-*haiku*': 'qwen3:4b' },
  num_ctx: 8192,
  keep_alive_min_s: 300,
  keep_alive_max_s: 1800,
  max_num_ctx: null,
  allow_load_options: false,
  allow_cloud_models: false,
};

describe('SettingsPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<SettingsPage>;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => (fixture.nativeElement as HTMLElement).querySelector<T>(`[data-testid="${id}"]`);
  const type = (id: string, value: string) => {
    const input = byTestId<HTMLInputElement>(id)!;
    input.value = value;
    input.dispatchEvent(new Event('input'));
  };
  /** Types and leaves the field, as Material shows a field's error only once it was touched. */
  const enter = (id: string, value: string) => {
    type(id, value);
    byTestId(id)!.dispatchEvent(new Event('blur'));
  };
  const checkbox = (id: string) => byTestId(id)!.querySelector<HTMLInputElement>('input[type="checkbox"]')!;

  beforeEach(async () => {
    ({ http } = setUpApi());
    fixture = TestBed.createComponent(SettingsPage);
    http.expectOne('/api/settings').flush(SETTINGS);
    http.expectOne('/api/ollama-models').flush({ models: [{ name: 'qwen3:8b' }, { name: 'qwen3:4b' }] });
    await fixture.whenStable();
  });

  afterEach(() => http.verify());

  it('shows the settings with one row per alias', () => {
    expect(byTestId<HTMLInputElement>('settings-ollama-url')!.value).toBe('http://localhost:11434');
    expect(byTestId<HTMLInputElement>('settings-alias-pattern-0')!.value).toBe('claude-*haiku*');
    expect(byTestId<HTMLInputElement>('settings-alias-model-0')!.value).toBe('qwen3:4b');
    expect(byTestId<HTMLInputElement>('settings-num-ctx')!.value).toBe('8192');
  });

  it('shows what key holders may ask: the keep_alive range, an empty largest num_ctx, both permissions off', () => {
    expect(byTestId<HTMLInputElement>('settings-keep-alive-min')!.value).toBe('300');
    expect(byTestId<HTMLInputElement>('settings-keep-alive-max')!.value).toBe('1800');
    expect(byTestId<HTMLInputElement>('settings-max-num-ctx')!.value).toBe('');
    expect(byTestId<HTMLInputElement>('settings-max-num-ctx')!.placeholder).toBe('same as num_ctx');
    expect(checkbox('settings-allow-load-options').checked).toBe(false);
    expect(checkbox('settings-allow-cloud-models').checked).toBe(false);
    expect(byTestId('settings-cloud-warning')!.textContent).toContain("server owner's account");
  });

  it('tests the connection through PUT and shows the result', async () => {
    byTestId('settings-test-connection')!.click();
    const request = http.expectOne({ method: 'PUT', url: '/api/settings' });
    expect(request.request.body).toEqual({ ollama_url: 'http://localhost:11434' });
    request.flush({ settings: SETTINGS, ollama: { reachable: true, version: '0.6.2' } });
    await fixture.whenStable();
    expect(byTestId('settings-ollama-status')!.textContent).toContain('Ollama 0.6.2 answers at http://localhost:11434');
  });

  it('shows an unreachable URL as refused, not saved, in one message that points at the checkbox', async () => {
    type('settings-ollama-url', 'http://nowhere:1');
    await fixture.whenStable();
    byTestId('settings-test-connection')!.click();
    http
      .expectOne({ method: 'PUT', url: '/api/settings' })
      .flush(
        {
          statusCode: 400,
          error: 'Bad Request',
          message: 'ollama_url: connection refused; nothing was saved (send "save_unreachable": true to save it anyway)',
          ollama: { reachable: false, error: 'connection refused' },
        },
        { status: 400, statusText: 'Bad Request' },
      );
    await fixture.whenStable();
    const status = byTestId('settings-ollama-status')!.textContent!.replace(/\s+/g, ' ');
    expect(status).toContain('Nothing was saved: Ollama does not answer at http://nowhere:1: connection refused.');
    expect(status).toContain('tick “Save the URL even if Ollama does not answer” below');
    expect(byTestId('settings-ollama-status')!.getAttribute('role')).toBe('alert');
    // Not a second message in the API's words.
    expect(byTestId('settings-error')).toBeNull();
    expect((fixture.nativeElement as HTMLElement).textContent).not.toContain('save_unreachable');
  });

  it('shows an alias to a model no server has as refused, in one message that points at its checkbox, and saves it once ticked', async () => {
    byTestId('settings-alias-add')!.click();
    await fixture.whenStable();
    type('settings-alias-pattern-1', 'gpt-*');
    type('settings-alias-model-1', 'qwen3:8bb');
    await fixture.whenStable();
    submitWith(byTestId<HTMLButtonElement>('settings-save')!);
    const refused = http.expectOne({ method: 'PUT', url: '/api/settings' });
    expect(refused.request.body).not.toHaveProperty('save_unknown_models');
    refused.flush(
      {
        statusCode: 400,
        error: 'Bad Request',
        message: "model_aliases['gpt-*']: Ollama has no model 'qwen3:8bb' (it has: qwen3:4b, qwen3:8b); nothing was saved (send \"save_unknown_models\": true to save it anyway)",
        unknown_models: ['qwen3:8bb'],
      },
      { status: 400, statusText: 'Bad Request' },
    );
    await fixture.whenStable();
    const message = byTestId('settings-unknown-models')!;
    expect(message.textContent!.replace(/\s+/g, ' ')).toContain('Nothing was saved: no Ollama server has qwen3:8bb.');
    expect(message.textContent).toContain('Save the default model and aliases even if no Ollama server has the model yet');
    expect(message.getAttribute('role')).toBe('alert');
    expect(byTestId('settings-error')).toBeNull();
    expect((fixture.nativeElement as HTMLElement).textContent).not.toContain('save_unknown_models');

    checkbox('settings-save-unknown-models').click();
    await fixture.whenStable();
    submitWith(byTestId<HTMLButtonElement>('settings-save')!);
    const insisted = http.expectOne({ method: 'PUT', url: '/api/settings' });
    expect(insisted.request.body).toMatchObject({ model_aliases: { 'claude-*haiku*': 'qwen3:4b', 'gpt-*': 'qwen3:8bb' }, save_unknown_models: true });
    insisted.flush({ settings: { ...SETTINGS, model_aliases: { 'claude-*haiku*': 'qwen3:4b', 'gpt-*': 'qwen3:8bb' } }, ollama: { reachable: true, version: '0.6.2' } });
    await fixture.whenStable();
    expect(byTestId('settings-unknown-models')).toBeNull();
    expect(byTestId('settings-saved')!.textContent).toContain('Settings saved');
    expect(checkbox('settings-save-unknown-models').checked).toBe(false);
  });

  it('saves every field, aliases as a pattern → model map', async () => {
    byTestId('settings-alias-add')!.click();
    await fixture.whenStable();
    type('settings-alias-pattern-1', 'gpt-*');
    type('settings-alias-model-1', 'qwen3:8b');
    type('settings-num-ctx', '4096');
    await fixture.whenStable();
    submitWith(byTestId<HTMLButtonElement>('settings-save')!);
    const request = http.expectOne({ method: 'PUT', url: '/api/settings' });
    expect(request.request.body).toEqual({
      ollama_url: 'http://localhost:11434',
      default_model: 'qwen3:8b',
      model_aliases: { 'claude-*haiku*': 'qwen3:4b', 'gpt-*': 'qwen3:8b' },
      num_ctx: 4096,
      keep_alive_min_s: 300,
      keep_alive_max_s: 1800,
      max_num_ctx: null,
      allow_load_options: false,
      allow_cloud_models: false,
    });
    request.flush({ settings: { ...SETTINGS, num_ctx: 4096 }, ollama: { reachable: true, version: '0.6.2' } });
    await fixture.whenStable();
    expect(byTestId('settings-saved')!.textContent).toContain('Settings saved');
  });

  it('saves the changed request policy with the rest and shows what the server kept', async () => {
    type('settings-keep-alive-min', '60');
    type('settings-keep-alive-max', '3600');
    type('settings-max-num-ctx', '32768');
    checkbox('settings-allow-load-options').click();
    checkbox('settings-allow-cloud-models').click();
    await fixture.whenStable();
    submitWith(byTestId<HTMLButtonElement>('settings-save')!);
    const request = http.expectOne({ method: 'PUT', url: '/api/settings' });
    const policy = { keep_alive_min_s: 60, keep_alive_max_s: 3600, max_num_ctx: 32768, allow_load_options: true, allow_cloud_models: true };
    expect(request.request.body).toEqual({ ollama_url: SETTINGS.ollama_url, default_model: 'qwen3:8b', model_aliases: SETTINGS.model_aliases, num_ctx: 8192, ...policy });
    request.flush({ settings: { ...SETTINGS, ...policy }, ollama: { reachable: true, version: '0.6.2' } });
    await fixture.whenStable();
    expect(byTestId('settings-saved')!.textContent).toContain('Settings saved');
    expect(byTestId<HTMLInputElement>('settings-max-num-ctx')!.value).toBe('32768');
    expect(checkbox('settings-allow-cloud-models').checked).toBe(true);
  });

  it('sends an emptied largest num_ctx as null, "same as num_ctx"', async () => {
    type('settings-max-num-ctx', '16384');
    await fixture.whenStable();
    type('settings-max-num-ctx', '');
    await fixture.whenStable();
    submitWith(byTestId<HTMLButtonElement>('settings-save')!);
    const request = http.expectOne({ method: 'PUT', url: '/api/settings' });
    expect(request.request.body.max_num_ctx).toBeNull();
    request.flush({ settings: SETTINGS, ollama: { reachable: true, version: '0.6.2' } });
  });

  it('will not save a shortest keep_alive above the longest, nor one outside 1..86400 s', async () => {
    enter('settings-keep-alive-min', '3600');
    await fixture.whenStable();
    expect(byTestId<HTMLButtonElement>('settings-save')!.disabled).toBe(true);
    expect(byTestId('settings-keep-alive-order')!.textContent).toContain('must not exceed the longest');
    expect(byTestId('settings-keep-alive-max')!.getAttribute('aria-invalid')).toBe('true');

    enter('settings-keep-alive-min', '0');
    await fixture.whenStable();
    expect(byTestId('settings-keep-alive-order')).toBeNull();
    expect(byTestId('settings-policy')!.textContent).toContain('a whole number from 1 to 86400');
    expect(byTestId<HTMLButtonElement>('settings-save')!.disabled).toBe(true);

    enter('settings-keep-alive-min', '600');
    enter('settings-max-num-ctx', '100');
    await fixture.whenStable();
    expect(byTestId('settings-policy')!.textContent).toContain('empty, or a whole number from 512 to 1048576');
    expect(byTestId<HTMLButtonElement>('settings-save')!.disabled).toBe(true);

    enter('settings-max-num-ctx', '');
    await fixture.whenStable();
    expect(byTestId<HTMLButtonElement>('settings-save')!.disabled).toBe(false);
  });

  it('shows the server\'s refusal of a policy field', async () => {
    submitWith(byTestId<HTMLButtonElement>('settings-save')!);
    http
      .expectOne({ method: 'PUT', url: '/api/settings' })
      .flush(
        { statusCode: 400, error: 'Bad Request', message: 'keep_alive_min_s (300) must not exceed keep_alive_max_s (200)' },
        { status: 400, statusText: 'Bad Request' },
      );
    await fixture.whenStable();
    expect(byTestId('settings-error')!.textContent).toContain('keep_alive_min_s (300) must not exceed keep_alive_max_s (200)');
  });

  it('removes an alias row', async () => {
    byTestId('settings-alias-remove-0')!.click();
    await fixture.whenStable();
    expect(byTestId('settings-alias-row-0')).toBeNull();
    expect(byTestId('settings-aliases-empty')).not.toBeNull();
  });
});
