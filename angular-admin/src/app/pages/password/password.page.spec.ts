import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { setUpApi, submitWith } from '../../../testing/api-testing';
import { SessionService } from '../../core/session.service';
import { PasswordPage } from './password.page';

describe('PasswordPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<PasswordPage>;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => (fixture.nativeElement as HTMLElement).querySelector<T>(`[data-testid="${id}"]`);
  const type = async (id: string, value: string) => {
    const input = byTestId<HTMLInputElement>(id)!;
    input.value = value;
    input.dispatchEvent(new Event('input'));
    await fixture.whenStable();
  };
  const open = async (username: string) => {
    TestBed.inject(SessionService).setAccount({ username, role: 'viewer' });
    fixture = TestBed.createComponent(PasswordPage);
    await fixture.whenStable();
  };
  const fill = async (current: string, next: string, repeat = next) => {
    await type('password-current', current);
    await type('password-new', next);
    await type('password-repeat', repeat);
  };

  beforeEach(() => {
    ({ http } = setUpApi());
  });

  afterEach(() => http.verify());

  it('changes the password with the current one and says the other sessions ended', async () => {
    await open('vera');
    await fill('old-password-0123', 'new-password-0123');
    submitWith(byTestId<HTMLButtonElement>('password-submit')!);
    const request = http.expectOne({ method: 'PUT', url: '/api/me/password' });
    expect(request.request.body).toEqual({ current_password: 'old-password-0123', new_password: 'new-password-0123' });
    request.flush(null, { status: 204, statusText: 'No Content' });
    await fixture.whenStable();
    expect(byTestId('password-done')).not.toBeNull();
    expect(byTestId<HTMLInputElement>('password-current')!.value).toBe('');
  });

  it('says so inline when the current password is wrong, without ending the session', async () => {
    await open('vera');
    await fill('wrong-password-0', 'new-password-0123');
    submitWith(byTestId<HTMLButtonElement>('password-submit')!);
    http.expectOne('/api/me/password').flush({ statusCode: 400, message: 'wrong current password' }, { status: 400, statusText: 'Bad Request' });
    await fixture.whenStable();
    expect(byTestId('password-error')!.textContent).toContain('current password is wrong');
    expect(TestBed.inject(SessionService).token()).not.toBeNull();
  });

  it('sends nothing while the new passwords differ or are too short', async () => {
    await open('vera');
    await fill('old-password-0123', 'new-password-0123', 'new-password-0124');
    expect(byTestId('password-mismatch')).not.toBeNull();
    expect(byTestId<HTMLButtonElement>('password-submit')!.disabled).toBe(true);
    await fill('old-password-0123', 'short');
    expect(byTestId<HTMLButtonElement>('password-submit')!.disabled).toBe(true);
  });

  it('tells the built-in admin where its password lives instead of offering a form', async () => {
    await open('admin');
    expect(byTestId('password-built-in')!.textContent).toContain('ADMIN_PASSWORD');
    expect(byTestId('password-submit')).toBeNull();
  });
});
