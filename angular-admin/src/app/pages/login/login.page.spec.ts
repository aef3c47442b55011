import type { HttpTestingController } from '@angular/common/http/testing';
import { type ComponentFixture, TestBed } from '@angular/core/testing';
import { Router } from '@angular/router';
import { type MockInstance, vi } from 'vitest';
import { setUpApi, submitWith } from '../../../testing/api-testing';
import { SessionService } from '../../core/session.service';
import type { AuthMethods } from '../../api/admin-api.types';
import { LoginPage } from './login.page';

describe('LoginPage', () => {
  let http: HttpTestingController;
  let fixture: ComponentFixture<LoginPage>;
  let navigateByUrl: MockInstance;
  const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => (fixture.nativeElement as HTMLElement).querySelector<T>(`[data-testid="${id}"]`);

  async function logIn(password: string) {
    const input = byTestId<HTMLInputElement>('login-password')!;
    input.value = password;
    input.dispatchEvent(new Event('input'));
    await fixture.whenStable();
    submitWith(byTestId<HTMLButtonElement>('login-submit')!);
    await fixture.whenStable();
  }

  /** The page as the router makes it, after the server said what it offers. */
  async function open(methods: AuthMethods = { password: true, sso: null }, inputs: Record<string, string> = {}) {
    fixture = TestBed.createComponent(LoginPage);
    for (const [name, value] of Object.entries(inputs)) fixture.componentRef.setInput(name, value);
    http.expectOne('/api/auth-methods').flush(methods);
    await fixture.whenStable();
  }

  beforeEach(async () => {
    ({ http } = setUpApi({ loggedIn: false }));
    navigateByUrl = vi.spyOn(TestBed.inject(Router), 'navigateByUrl').mockResolvedValue(true);
    await open();
  });

  afterEach(() => http.verify());

  it('starts a session and goes to the keys page', async () => {
    await logIn('s3cret');
    http.expectOne('/api/login').flush({ token: 'tok', expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    await fixture.whenStable();
    expect(TestBed.inject(SessionService).token()).toBe('tok');
    expect(navigateByUrl).toHaveBeenCalledWith('/overview');
  });

  it('goes back where an ended session left off, but only inside the app', async () => {
    fixture.componentRef.setInput('returnUrl', '/usage');
    await logIn('s3cret');
    http.expectOne('/api/login').flush({ token: 'tok', expires_at: new Date(Date.now() + 3_600_000).toISOString() });
    expect(navigateByUrl).toHaveBeenCalledWith('/usage');
  });

  it('says so inline on a wrong password', async () => {
    await logIn('nope');
    http.expectOne('/api/login').flush({ statusCode: 401, message: 'wrong password', error: 'Unauthorized' }, { status: 401, statusText: 'Unauthorized' });
    await fixture.whenStable();
    expect(byTestId('login-error')!.textContent).toContain('Wrong password');
    expect(TestBed.inject(SessionService).token()).toBeNull();
  });

  it('says when to try again when throttled', async () => {
    await logIn('nope');
    http.expectOne('/api/login').flush({ statusCode: 429, message: 'too many', error: 'Too Many Requests' }, { status: 429, statusText: 'Too Many Requests', headers: { 'Retry-After': '30' } });
    await fixture.whenStable();
    expect(byTestId('login-error')!.textContent).toContain('try again in 30 s');
  });

  it('shows why the last session ended', async () => {
    TestBed.inject(SessionService).notice.set('Your session has ended; log in again.');
    await fixture.whenStable();
    expect(byTestId('login-notice')!.textContent).toContain('log in again');
  });

  it('sends a username when one is given and keeps the account and its role with the session', async () => {
    const username = byTestId<HTMLInputElement>('login-username')!;
    username.value = ' Vera ';
    username.dispatchEvent(new Event('input'));
    await logIn('vera-password-0123');
    const request = http.expectOne('/api/login');
    expect(request.request.body).toEqual({ username: 'Vera', password: 'vera-password-0123' });
    request.flush({ token: 'tok', expires_at: new Date(Date.now() + 3_600_000).toISOString(), username: 'vera', role: 'viewer' });
    await fixture.whenStable();
    const session = TestBed.inject(SessionService);
    expect([session.username(), session.role(), session.canWrite()]).toEqual(['vera', 'viewer', false]);
  });

  it('sends only the password without a username (ADMIN_PASSWORD), and names both on a failure with one', async () => {
    await logIn('s3cret');
    const first = http.expectOne('/api/login');
    expect(first.request.body).toEqual({ password: 's3cret' });
    first.flush({ statusCode: 401, message: 'wrong password' }, { status: 401, statusText: 'Unauthorized' });
    await fixture.whenStable();
    expect(byTestId('login-error')!.textContent).toContain('Wrong password.');
    const username = byTestId<HTMLInputElement>('login-username')!;
    username.value = 'vera';
    username.dispatchEvent(new Event('input'));
    await logIn('nope');
    http.expectOne('/api/login').flush({ statusCode: 401, message: 'wrong username or password' }, { status: 401, statusText: 'Unauthorized' });
    await fixture.whenStable();
    expect(byTestId('login-error')!.textContent).toContain('Wrong username or password');
  });

  it('offers single sign-on beside the password when the server has it on', async () => {
    await open({ password: true, sso: { name: 'Keycloak', login_url: '/api/oidc/login' } });
    const button = byTestId<HTMLAnchorElement>('login-sso')!;
    expect(button.textContent).toContain('Sign in with Keycloak');
    expect(button.getAttribute('href')).toBe('/api/oidc/login');
    expect(byTestId('login-password')).not.toBeNull();
  });

  it('offers only single sign-on with OIDC_ONLY', async () => {
    await open({ password: false, sso: { name: 'Keycloak', login_url: '/api/oidc/login' } });
    expect(byTestId('login-sso')).not.toBeNull();
    expect(byTestId('login-password')).toBeNull();
  });

  it('picks up the session a single sign-on opened and goes to the overview', async () => {
    await open({ password: true, sso: { name: 'Keycloak', login_url: '/api/oidc/login' } }, { sso: '1' });
    http.expectOne('/api/oidc/session').flush({ token: 'sso-tok', expires_at: new Date(Date.now() + 3_600_000).toISOString(), username: 'oidc:alice', role: 'admin' });
    await fixture.whenStable();
    const session = TestBed.inject(SessionService);
    expect([session.token(), session.username(), session.role()]).toEqual(['sso-tok', 'oidc:alice', 'admin']);
    expect(navigateByUrl).toHaveBeenCalledWith('/overview');
  });

  it('says so when there is no single sign-on session to pick up', async () => {
    await open({ password: true, sso: { name: 'Keycloak', login_url: '/api/oidc/login' } }, { sso: '1' });
    http.expectOne('/api/oidc/session').flush({ statusCode: 401, message: 'no single sign-on session' }, { status: 401, statusText: 'Unauthorized' });
    await fixture.whenStable();
    expect(byTestId('login-sso-error')!.textContent).toContain('sign in again');
    expect(TestBed.inject(SessionService).token()).toBeNull();
  });
});
