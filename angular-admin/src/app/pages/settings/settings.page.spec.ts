import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { setUpApi, submitWith } from '../../../testing/api-testing';
import { SettingsPage } from './settings.page';

const SETTINGS = { ollama_url: 'http://localhost:11434', default_model: 'qwen3:8b', model_aliases: { 'claude-*haiku*': 'qwen3:4b' }, num_ctx: 8192 };

describe('SettingsPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<SettingsPage>;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => (fixture.nativeElement as HTMLElement).querySelector<T>(`[data-testid="${id}"]`);
  const type = (id: string, value: string) => {
    const input = byTestId<HTMLInputElement>(id)!;
    input.value = value;
    input.dispatchEvent(new Event('input'));
  };

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

  it('tests the connection through PUT and shows the result', async () => {
    byTestId('settings-test-connection')!.click();
    const request = http.expectOne({ method: 'PUT', url: '/api/settings' });
    expect(request.request.body).toEqual({ ollama_url: 'http://localhost:11434' });
    request.flush({ settings: SETTINGS, ollama: { reachable: true, version: '0.6.2' } });
    await fixture.whenStable();
    expect(byTestId('settings-ollama-status')!.textContent).toContain('Ollama 0.6.2 answers at http://localhost:11434');
  });

  it('shows an unreachable URL as refused, not saved', async () => {
    type('settings-ollama-url', 'http://nowhere:1');
    await fixture.whenStable();
    byTestId('settings-test-connection')!.click();
    http
      .expectOne({ method: 'PUT', url: '/api/settings' })
      .flush(
        { statusCode: 400, error: 'Bad Request', message: 'ollama_url: connection refused; nothing was saved', ollama: { reachable: false, error: 'connection refused' } },
        { status: 400, statusText: 'Bad Request' },
      );
    await fixture.whenStable();
    expect(byTestId('settings-ollama-status')!.textContent).toContain('does not answer at http://nowhere:1: connection refused (not saved)');
    expect(byTestId('settings-error')!.textContent).toContain('nothing was saved');
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
    });
    request.flush({ settings: { ...SETTINGS, num_ctx: 4096 }, ollama: { reachable: true, version: '0.6.2' } });
    await fixture.whenStable();
    expect(byTestId('settings-saved')!.textContent).toContain('Settings saved');
  });

  it('removes an alias row', async () => {
    byTestId('settings-alias-remove-0')!.click();
    await fixture.whenStable();
    expect(byTestId('settings-alias-row-0')).toBeNull();
    expect(byTestId('settings-aliases-empty')).not.toBeNull();
  });
});
