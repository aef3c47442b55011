import { ChangeDetectionStrategy, Component, afterNextRender, inject, input, signal } from '@angular/core';
import { FormControl, FormGroup, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCardModule } from '@angular/material/card';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { Router } from '@angular/router';
import type { AuthMethods } from '../../api/admin-api.types';
import { AuthApi } from '../../api/auth-api.service';
import { ApiError, errorMessage } from '../../core/api-error';
import { SessionService } from '../../core/session.service';

@Component({
  selector: 'app-login-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [ReactiveFormsModule, MatCardModule, MatFormFieldModule, MatInputModule, MatButtonModule],
  template: `
    <mat-card class="login-card" appearance="outlined">
      <mat-card-header><mat-card-title>Log in</mat-card-title></mat-card-header>
      <mat-card-content>
        @if (session.notice(); as notice) {
          <p class="notice" role="status" data-testid="login-notice">{{ notice }}</p>
        }
        @if (methods()?.sso; as sso) {
          <a mat-flat-button class="sso" [href]="sso.login_url" data-testid="login-sso">Sign in with {{ sso.name }}</a>
          @if (methods()?.password) {
            <p class="or">or with a password</p>
          }
        }
        @if (ssoError(); as ssoError) {
          <p class="error" role="alert" data-testid="login-sso-error">{{ ssoError }}</p>
        }
        @if (methods()?.password !== false) {
        <form [formGroup]="form" (ngSubmit)="submit()">
          <mat-form-field appearance="outline" class="full">
            <mat-label>Username</mat-label>
            <input matInput autocomplete="username" autocapitalize="none" spellcheck="false" formControlName="username" data-testid="login-username" />
            <mat-hint>Empty or "admin" to log in with ADMIN_PASSWORD</mat-hint>
          </mat-form-field>
          <mat-form-field appearance="outline" class="full">
            <mat-label>Password</mat-label>
            <input matInput type="password" autocomplete="current-password" formControlName="password" data-testid="login-password" />
          </mat-form-field>
          @if (error(); as error) {
            <p class="error" role="alert" data-testid="login-error">{{ error }}</p>
          }
          <button mat-flat-button type="submit" [disabled]="busy() || password.invalid" data-testid="login-submit">Log in</button>
        </form>
        }
      </mat-card-content>
    </mat-card>
  `,
  styles: `
    .login-card { max-width: 400px; margin: 48px auto; }
    .full { width: 100%; }
    .full + .full { margin-top: 8px; }
    .notice { color: var(--mat-sys-on-surface-variant); }
    .error { color: var(--mat-sys-error); }
    .sso { width: 100%; margin-top: 8px; }
    .or { text-align: center; color: var(--mat-sys-on-surface-variant); margin: 16px 0 8px; }
  `,
})
export class LoginPage {
  private readonly authApi = inject(AuthApi);
  private readonly router = inject(Router);
  protected readonly session = inject(SessionService);

  /** Where a guard or an ended session came from; only paths inside this app are followed. */
  readonly returnUrl = input<string | undefined>();
  /** Set by the single sign-on callback's redirect (`/login?sso=1`): pick up the session it opened. */
  readonly sso = input<string | undefined>();

  /** What the server offers; null until it answered (then the password form shows, as before single sign-on). */
  protected readonly methods = signal<AuthMethods | null>(null);
  protected readonly ssoError = signal<string | null>(null);

  constructor() {
    this.authApi.methods().subscribe({ next: (methods) => this.methods.set(methods), error: () => undefined });
    afterNextRender(() => {
      if (this.sso() !== undefined) this.pickUpSsoSession();
    });
  }

  private pickUpSsoSession(): void {
    this.busy.set(true);
    this.authApi.ssoSession().subscribe({
      next: ({ token, expires_at, username, role }) => {
        this.session.start(token, expires_at, { username, role });
        void this.router.navigateByUrl('/overview');
      },
      error: () => {
        this.busy.set(false);
        this.ssoError.set('Single sign-on did not complete (or the page was reloaded): sign in again.');
      },
    });
  }

  protected readonly form = new FormGroup({
    username: new FormControl('', { nonNullable: true }),
    password: new FormControl('', { nonNullable: true, validators: [Validators.required] }),
  });
  protected readonly password = this.form.controls.password;
  protected readonly busy = signal(false);
  protected readonly error = signal<string | null>(null);

  protected submit(): void {
    if (this.password.invalid || this.busy()) return;
    this.busy.set(true);
    this.error.set(null);
    const username = this.form.controls.username.value.trim();
    this.authApi.login(this.password.value, username || undefined).subscribe({
      next: ({ token, expires_at, username: name, role }) => {
        this.session.start(token, expires_at, name && role ? { username: name, role } : undefined);
        const target = this.returnUrl();
        void this.router.navigateByUrl(target && target.startsWith('/') && !target.startsWith('//') ? target : '/overview');
      },
      error: (error: unknown) => {
        this.busy.set(false);
        this.error.set(loginFailure(error, username !== ''));
      },
    });
  }
}

function loginFailure(error: unknown, withUsername: boolean): string {
  if (error instanceof ApiError && error.status === 401) return withUsername ? 'Wrong username or password.' : 'Wrong password.';
  if (error instanceof ApiError && error.status === 429) {
    return error.retryAfter !== null ? `Too many failed logins; try again in ${error.retryAfter} s.` : errorMessage(error);
  }
  return errorMessage(error);
}
