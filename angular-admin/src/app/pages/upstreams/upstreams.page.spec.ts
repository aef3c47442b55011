import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import type { MockInstance } from 'vitest';
import { setUpApi, submitWith } from '../../../testing/api-testing';
import type { UpstreamView } from '../../api/admin-api.types';
import { UPSTREAMS_REFRESH_MS, UpstreamsPage, upstreamCard } from './upstreams.page';

function upstream(overrides: Partial<UpstreamView> = {}, status: Partial<UpstreamView['status']> = {}): UpstreamView {
  return {
    id: 1,
    name: 'gpu1',
    url: 'http://ollama:***@gpu1:11434',
    enabled: true,
    max_parallel: 4,
    reserved_slots: 1,
    priority: 0,
    ...overrides,
    status: {
      health: 'up',
      breaker: 'closed',
      last_poll_at: '2026-12-04T10:00:00.000Z',
      models: ['llama3.2:latest', 'qwen3:4b'],
      loaded: ['qwen3:4b'],
      in_flight: 3,
      queued: 7,
      served: 1234,
      failovers: 2,
      recent_errors: [],
      ...status,
    },
  };
}

const GPU1 = upstream();
const GPU2 = upstream(
  { id: 2, name: 'gpu2', url: 'http://gpu2:11434', enabled: true, max_parallel: 2, reserved_slots: undefined, priority: 5 },
  {
    health: 'down',
    breaker: 'open',
    models: [],
    loaded: [],
    in_flight: 0,
    queued: 0,
    served: 0,
    failovers: 0,
    recent_errors: [{ at: '2026-12-04T09:59:00.000Z', message: 'connect ECONNREFUSED 10.0.0.2:11434' }],
  },
);

/** The page with its dialogs against the fake API: what a person sees and does. */
describe('UpstreamsPage', () => {
  let http: HttpTestingController;
  let snackBarOpen: MockInstance;
  let fixture: ComponentFixture<UpstreamsPage>;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => document.querySelector<T>(`[data-testid="${id}"]`);
  const text = (id: string) => byTestId(id)?.textContent?.replace(/\s+/g, ' ').trim();
  const settle = async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    await fixture.whenStable();
  };
  const type = (id: string, value: string) => {
    const input = byTestId<HTMLInputElement>(id)!;
    input.value = value;
    input.dispatchEvent(new Event('input'));
  };

  async function open(refreshMs = 3_600_000, list: UpstreamView[] = [GPU1, GPU2]) {
    TestBed.configureTestingModule({ providers: [{ provide: UPSTREAMS_REFRESH_MS, useValue: refreshMs }] });
    ({ http, snackBarOpen } = setUpApi());
    fixture = TestBed.createComponent(UpstreamsPage);
    await settle();
    http.expectOne({ method: 'GET', url: '/api/upstreams' }).flush(list);
    await settle();
  }

  afterEach(() => {
    http.verify();
    document.querySelectorAll('.cdk-overlay-container').forEach((node) => node.remove());
  });

  it('shows each upstream: health, breaker, slots, reserved, queue, counters, models with the loaded ones marked, recent errors', async () => {
    await open();
    expect(text('upstream-health-gpu1')).toBe('up');
    expect(text('upstream-breaker-gpu1')).toBe('breaker closed');
    expect(text('upstream-url-gpu1')).toBe('http://ollama:***@gpu1:11434');
    expect(text('upstream-slots-gpu1')).toBe('3 / 4');
    expect(text('upstream-reserved-gpu1')).toBe('1');
    expect(text('upstream-queued-gpu1')).toBe('7');
    expect(text('upstream-served-gpu1')).toBe('1,234');
    expect(text('upstream-failovers-gpu1')).toBe('2');
    const model = (name: string) => byTestId(`upstream-model-gpu1-${name}`)!;
    expect(model('qwen3:4b').querySelector('code')!.textContent).toBe('qwen3:4b');
    expect(model('qwen3:4b').querySelector('.badge')?.textContent).toBe('loaded');
    expect(model('qwen3:4b').classList).toContain('loaded');
    expect(model('llama3.2:latest').querySelector('code')!.textContent).toBe('llama3.2:latest');
    expect(model('llama3.2:latest').querySelector('.badge')).toBeNull();
    expect(model('llama3.2:latest').classList).not.toContain('loaded');
    expect(text('upstream-errors-gpu1')).toBe('No recent errors.');
    expect(byTestId('upstream-last-poll-gpu1')!.querySelector('span')!.title).toBe('2026-12-04T10:00:00.000Z');

    expect(text('upstream-health-gpu2')).toBe('down');
    expect(text('upstream-breaker-gpu2')).toBe('breaker open');
    // An answer without reserved_slots (a gateway from before them) shows no reserved count.
    expect(byTestId('upstream-reserved-gpu2')).toBeNull();
    expect(text('upstream-models-gpu2')).toBe('No models listed.');
    const errors = byTestId<HTMLDetailsElement>('upstream-errors-gpu2')!;
    expect(errors.open).toBe(true);
    expect(errors.textContent).toContain('connect');
    expect(errors.textContent).toContain('connect ECONNREFUSED 10.0.0.2:11434');
    expect(errors.querySelector('time')!.getAttribute('datetime')).toBe('2026-12-04T09:59:00.000Z');
    expect(byTestId('upstream-enable-gpu2')).toBeNull();
  });

  it('marks a loaded model the catalogue did not list, and says so when an upstream was never polled', () => {
    const card = upstreamCard(upstream({}, { models: ['a:latest'], loaded: ['b:latest'], breaker: 'half_open' }));
    expect(card.models).toEqual([
      { name: 'a:latest', loaded: false },
      { name: 'b:latest', loaded: true },
    ]);
    expect(card.breaker).toBe('half open');
  });

  it('shows the never-polled and the empty states', async () => {
    await open(3_600_000, [upstream({}, { health: 'unknown', last_poll_at: null, models: [], loaded: [] })]);
    expect(text('upstream-health-gpu1')).toBe('unknown');
    expect(text('upstream-last-poll-gpu1')).toBe('never');
    expect(text('upstream-models-gpu1')).toBe('Not polled yet.');
    http.verify();
    TestBed.resetTestingModule();
    await open(3_600_000, []);
    expect(text('upstreams-empty')).toContain('No upstreams');
  });

  it('asks again every few seconds while open, and stops when closed', async () => {
    await open(30);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const again = http.match({ method: 'GET', url: '/api/upstreams' });
    expect(again.length).toBeGreaterThanOrEqual(1);
    again.at(-1)!.flush([upstream({}, { in_flight: 4, queued: 9 }), GPU2]);
    for (const stale of again.slice(0, -1)) expect(stale.cancelled).toBe(true);
    await settle();
    expect(text('upstream-slots-gpu1')).toBe('4 / 4');
    expect(text('upstream-queued-gpu1')).toBe('9');

    fixture.destroy();
    http.match('/api/upstreams');
    await new Promise((resolve) => setTimeout(resolve, 60));
    http.expectNone('/api/upstreams');
  });

  it('keeps the last list on screen under the error when a refresh fails', async () => {
    await open();
    byTestId('upstreams-refresh')!.click();
    http.expectOne('/api/upstreams').flush({ statusCode: 500, message: 'Internal server error' }, { status: 500, statusText: 'Internal Server Error' });
    await settle();
    expect(text('upstreams-error')).toBe('Could not load the upstreams: Internal server error');
    expect(text('upstream-slots-gpu1')).toBe('3 / 4');
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it('adds an upstream, sending only what differs from the defaults', async () => {
    await open();
    byTestId('upstream-create')!.click();
    await settle();
    type('upstream-name-input', 'gpu3');
    type('upstream-url-input', 'http://gpu3:11434');
    type('upstream-max-parallel-input', '8');
    await settle();
    submitWith(byTestId<HTMLButtonElement>('upstream-form-submit')!);
    await settle();
    const create = http.expectOne({ method: 'POST', url: '/api/upstreams' });
    expect(create.request.body).toEqual({ name: 'gpu3', url: 'http://gpu3:11434', max_parallel: 8 });
    create.flush(upstream({ id: 3, name: 'gpu3', max_parallel: 8 }));
    await settle();
    expect(snackBarOpen).toHaveBeenCalledWith('Added gpu3.', undefined, expect.anything());
    http.expectOne('/api/upstreams').flush([GPU1, GPU2, upstream({ id: 3, name: 'gpu3', max_parallel: 8 }, { in_flight: 0 })]);
    await settle();
    expect(text('upstream-slots-gpu3')).toBe('0 / 8');
  });

  it('keeps the form open with the server message in plain words when the upstream is refused', async () => {
    await open();
    byTestId('upstream-create')!.click();
    await settle();
    type('upstream-name-input', 'gpu1');
    type('upstream-url-input', 'http://gpu1:11434');
    await settle();
    submitWith(byTestId<HTMLButtonElement>('upstream-form-submit')!);
    await settle();
    http.expectOne({ method: 'POST', url: '/api/upstreams' }).flush({ statusCode: 409, message: "an upstream named 'gpu1' already exists", error: 'Conflict' }, { status: 409, statusText: 'Conflict' });
    await settle();
    expect(text('upstream-form-error')).toBe("an upstream named 'gpu1' already exists");
    expect(byTestId('upstream-form-submit')).not.toBeNull();
    expect(snackBarOpen).not.toHaveBeenCalled();
  });

  it('refuses bad input before sending: a bad name or URL, reserved slots not below the parallel requests', async () => {
    await open();
    byTestId('upstream-create')!.click();
    await settle();
    const submit = byTestId<HTMLButtonElement>('upstream-form-submit')!;
    type('upstream-name-input', 'has space');
    type('upstream-url-input', 'ftp://gpu3');
    await settle();
    expect(submit.disabled).toBe(true);
    type('upstream-name-input', 'gpu3');
    type('upstream-url-input', 'http://gpu3:11434');
    type('upstream-max-parallel-input', '2');
    type('upstream-reserved-input', '2');
    await settle();
    expect(submit.disabled).toBe(true);
    expect(byTestId('upstream-reserved-error')).not.toBeNull();
    type('upstream-reserved-input', '1');
    await settle();
    expect(submit.disabled).toBe(false);
    expect(byTestId('upstream-reserved-error')).toBeNull();
    byTestId('upstream-form-cancel')!.click();
    await settle();
    http.expectNone({ method: 'POST' });
  });

  it('edits only what changed, never sending back the masked URL', async () => {
    await open();
    byTestId('upstream-edit-gpu1')!.click();
    await settle();
    expect(byTestId<HTMLInputElement>('upstream-url-input')!.value).toBe('http://ollama:***@gpu1:11434');
    expect(byTestId<HTMLInputElement>('upstream-reserved-input')!.value).toBe('1');
    type('upstream-max-parallel-input', '6');
    type('upstream-reserved-input', '2');
    await settle();
    submitWith(byTestId<HTMLButtonElement>('upstream-form-submit')!);
    await settle();
    const patch = http.expectOne({ method: 'PATCH', url: '/api/upstreams/1' });
    expect(patch.request.body).toEqual({ max_parallel: 6, reserved_slots: 2 });
    patch.flush(upstream({ max_parallel: 6, reserved_slots: 2 }));
    await settle();
    http.expectOne('/api/upstreams').flush([upstream({ max_parallel: 6, reserved_slots: 2 }), GPU2]);
    await settle();
    expect(text('upstream-slots-gpu1')).toBe('3 / 6');
    expect(text('upstream-reserved-gpu1')).toBe('2');
  });

  it('edits an upstream of a gateway without reserved slots without sending them', async () => {
    await open();
    byTestId('upstream-edit-gpu2')!.click();
    await settle();
    expect(byTestId<HTMLInputElement>('upstream-reserved-input')!.value).toBe('0');
    type('upstream-priority-input', '-3');
    await settle();
    submitWith(byTestId<HTMLButtonElement>('upstream-form-submit')!);
    await settle();
    const patch = http.expectOne({ method: 'PATCH', url: '/api/upstreams/2' });
    expect(patch.request.body).toEqual({ priority: -3 });
    patch.flush(GPU2);
    await settle();
    http.expectOne('/api/upstreams').flush([GPU1, GPU2]);
  });

  it('disables and enables with a click, then reloads', async () => {
    await open();
    byTestId('upstream-disable-gpu1')!.click();
    await settle();
    const disable = http.expectOne({ method: 'PATCH', url: '/api/upstreams/1' });
    expect(disable.request.body).toEqual({ enabled: false });
    disable.flush(upstream({ enabled: false }, { health: 'disabled' }));
    await settle();
    http.expectOne('/api/upstreams').flush([upstream({ enabled: false }, { health: 'disabled' }), GPU2]);
    await settle();
    expect(text('upstream-health-gpu1')).toBe('disabled');
    expect(snackBarOpen).toHaveBeenCalledWith('gpu1 disabled.', undefined, expect.anything());

    byTestId('upstream-enable-gpu1')!.click();
    await settle();
    const enable = http.expectOne({ method: 'PATCH', url: '/api/upstreams/1' });
    expect(enable.request.body).toEqual({ enabled: true });
    enable.flush(GPU1);
    await settle();
    http.expectOne('/api/upstreams').flush([GPU1, GPU2]);
    await settle();
    expect(text('upstream-health-gpu1')).toBe('up');
  });

  it('removes only after confirmation', async () => {
    await open();
    byTestId('upstream-remove-gpu2')!.click();
    await settle();
    expect(text('confirm-message')).toContain('No new requests go to this server');
    byTestId('confirm-cancel')!.click();
    await settle();
    http.expectNone({ method: 'DELETE' });

    byTestId('upstream-remove-gpu2')!.click();
    await settle();
    byTestId('confirm-ok')!.click();
    await settle();
    http.expectOne({ method: 'DELETE', url: '/api/upstreams/2' }).flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    http.expectOne('/api/upstreams').flush([GPU1]);
    await settle();
    expect(byTestId('upstream-gpu2')).toBeNull();
    expect(byTestId('upstream-gpu1')).not.toBeNull();
  });
});
