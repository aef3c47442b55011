import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { setUpApi, submitWith } from '../../../testing/api-testing';
import type { AccountView } from '../../api/admin-api.types';
import { SessionService } from '../../core/session.service';
import { AccountsPage } from './accounts.page';

const AT = '2026-12-01T10:00:00Z';
const account = (id: number, username: string, role: 'admin' | 'viewer'): AccountView => ({ id, username, role, created_at: AT, updated_at: AT, password_changed_at: AT });

describe('AccountsPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<AccountsPage>;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => document.querySelector<T>(`[data-testid="${id}"]`);
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

  beforeEach(async () => {
    ({ http } = setUpApi());
    TestBed.inject(SessionService).setAccount({ username: 'alice', role: 'admin' });
    fixture = TestBed.createComponent(AccountsPage);
    document.body.appendChild(fixture.nativeElement as HTMLElement);
    await settle();
    http.expectOne('/api/accounts').flush([account(1, 'alice', 'admin')]);
    await settle();
  });

  afterEach(() => {
    http.verify();
    (fixture.nativeElement as HTMLElement).remove();
  });

  it('lists the accounts, marking the signed-in one', () => {
    expect(byTestId('account-alice')!.textContent).toContain('(you)');
    expect(byTestId('account-role-alice')!.textContent).toContain('admin');
  });

  it('creates a viewer with a lower-case username; the password goes out and is not kept in the form', async () => {
    await type('account-username', 'Vera');
    await type('account-password', 'a-long-enough-password');
    submitWith(byTestId<HTMLButtonElement>('account-create')!);
    const request = http.expectOne({ method: 'POST', url: '/api/accounts' });
    expect(request.request.body).toEqual({ username: 'vera', role: 'viewer', password: 'a-long-enough-password' });
    request.flush(account(2, 'vera', 'viewer'));
    await settle();
    expect(byTestId('account-role-vera')!.textContent).toContain('viewer');
    expect(byTestId<HTMLInputElement>('account-password')!.value).toBe('');
    // Emptied, not in error: the form starts over.
    expect(document.querySelector('[data-testid="account-create-form"] .mat-form-field-invalid')).toBeNull();
    expect(byTestId('accounts-notice')!.textContent).toContain('Created vera');
  });

  it('does not send a password shorter than the server accepts', async () => {
    await type('account-username', 'vera');
    await type('account-password', 'short');
    expect(byTestId<HTMLButtonElement>('account-create')!.disabled).toBe(true);
  });

  it("shows the server's refusal beside the form", async () => {
    await type('account-username', 'vera');
    await type('account-password', 'a-long-enough-password');
    submitWith(byTestId<HTMLButtonElement>('account-create')!);
    http.expectOne('/api/accounts').flush({ statusCode: 409, message: "an account named 'vera' already exists" }, { status: 409, statusText: 'Conflict' });
    await settle();
    expect(byTestId('account-create-error')!.textContent).toContain('already exists');
  });

  it('switches a role, and shows the last-admin refusal on its row', async () => {
    byTestId('account-toggle-role-alice')!.click();
    const request = http.expectOne({ method: 'PATCH', url: '/api/accounts/1' });
    expect(request.request.body).toEqual({ role: 'viewer' });
    request.flush({ statusCode: 409, message: 'the last admin account cannot be deleted or made a viewer' }, { status: 409, statusText: 'Conflict' });
    await settle();
    expect(byTestId('account-error-alice')!.textContent).toContain('last admin');
    expect(byTestId('account-role-alice')!.textContent).toContain('admin');
  });

  it('sets a new password for an account', async () => {
    byTestId('account-reset-alice')!.click();
    await settle();
    await type('account-reset-password-alice', 'another-long-password');
    submitWith(byTestId<HTMLButtonElement>('account-reset-save-alice')!);
    const request = http.expectOne({ method: 'PATCH', url: '/api/accounts/1' });
    expect(request.request.body).toEqual({ password: 'another-long-password' });
    request.flush(account(1, 'alice', 'admin'));
    await settle();
    expect(byTestId('account-reset-password-alice')).toBeNull();
  });

  it('deletes after a confirmation', async () => {
    byTestId('account-delete-alice')!.click();
    await settle();
    byTestId('confirm-ok')!.click();
    await settle();
    http.expectOne({ method: 'DELETE', url: '/api/accounts/1' }).flush(null, { status: 204, statusText: 'No Content' });
    await settle();
    expect(byTestId('account-alice')).toBeNull();
  });
});
