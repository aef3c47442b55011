import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { setUpApi } from '../../../testing/api-testing';
import type { AuditEntry } from '../../api/admin-api.types';
import { AuditPage } from './audit.page';

function entries(fromId: number, count: number): AuditEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    id: fromId - i,
    at: '2025-03-30T10:00:00.000Z',
    action: 'key.quota',
    // Every other row by a named account; the rest from before accounts (or the CLI).
    actor: i % 2 === 0 ? 'alice' : null,
    target_type: 'api_key',
    target_id: '1',
    target_name: 'ci',
    changes: { daily_token_limit: { old: 1000, new: 2000 } },
  }));
}

describe('AuditPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<AuditPage>;
  const byTestId = (id: string) => (fixture.nativeElement as HTMLElement).querySelector<HTMLElement>(`[data-testid="${id}"]`);

  beforeEach(async () => {
    ({ http } = setUpApi());
    fixture = TestBed.createComponent(AuditPage);
    http.expectOne('/api/audit?limit=50').flush(entries(120, 50));
    await fixture.whenStable();
  });

  afterEach(() => http.verify());

  it('shows the newest entries with their old and new values', () => {
    expect(byTestId('audit-row-120')!.textContent).toContain('daily_token_limit: 1000 → 2000');
    expect(byTestId('audit-row-71')).not.toBeNull();
  });

  it('names the account behind a change, and nobody where none is known', () => {
    expect(byTestId('audit-row-120')!.querySelector('[data-testid="audit-actor"]')!.textContent).toContain('by alice');
    expect(byTestId('audit-row-119')!.querySelector('[data-testid="audit-actor"]')).toBeNull();
  });

  it('loads older entries before the oldest shown, and stops at the end', async () => {
    byTestId('audit-load-more')!.click();
    http.expectOne('/api/audit?limit=50&before_id=71').flush(entries(70, 3));
    await fixture.whenStable();
    expect(byTestId('audit-row-68')).not.toBeNull();
    expect(byTestId('audit-load-more')).toBeNull();
  });
});
