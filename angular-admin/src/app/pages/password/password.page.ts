import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { type AbstractControl, FormControl, FormGroup, type FormGroupDirective, ReactiveFormsModule, type ValidationErrors, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { finalize } from 'rxjs';
import { AuthApi } from '../../api/auth-api.service';
import { ApiError, errorMessage } from '../../core/api-error';
import { SessionService } from '../../core/session.service';
import { MIN_PASSWORD_LENGTH } from '../../shared/password-rules';

/** The built-in admin's name (ADMIN_PASSWORD); no stored account may take it. */
const BUILT_IN_ADMIN = 'admin';

const sameAsNew = (group: AbstractControl): ValidationErrors | null =>
  group.get('next')?.value === group.get('repeat')?.value ? null : { mismatch: true };

/** Any signed-in account, viewers included, changes its own password here (with the current one). */
@Component({
  selector: 'app-password-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [ReactiveFormsModule, MatFormFieldModule, MatInputModule, MatButtonModule],
  template: `
    <h1>Your password</h1>
    @if (builtIn()) {
      <p data-testid="password-built-in">
        You are signed in as the built-in <strong>admin</strong>, whose password is ADMIN_PASSWORD in the server's environment:
        change it there and restart the gateway.
      </p>
    } @else if (sso()) {
      <p data-testid="password-sso">
        You signed in with single sign-on as <strong>{{ session.username() }}</strong>: there is no password here to change. Your
        password and your role are managed at your identity provider.
      </p>
    } @else {
      <form class="form" [formGroup]="form" #passwordForm="ngForm" (ngSubmit)="submit(passwordForm)">
        <mat-form-field appearance="outline">
          <mat-label>Current password</mat-label>
          <input matInput type="password" autocomplete="current-password" formControlName="current" data-testid="password-current" />
        </mat-form-field>
        <mat-form-field appearance="outline">
          <mat-label>New password</mat-label>
          <input matInput type="password" autocomplete="new-password" formControlName="next" data-testid="password-new" />
          <mat-hint>At least {{ minPasswordLength }} characters</mat-hint>
        </mat-form-field>
        <mat-form-field appearance="outline">
          <mat-label>New password again</mat-label>
          <input matInput type="password" autocomplete="new-password" formControlName="repeat" data-testid="password-repeat" />
        </mat-form-field>
        @if (form.hasError('mismatch') && form.controls.repeat.dirty) {
          <p class="error" role="alert" data-testid="password-mismatch">The new passwords differ.</p>
        }
        @if (error(); as error) {
          <p class="error" role="alert" data-testid="password-error">{{ error }}</p>
        }
        @if (done()) {
          <p role="status" data-testid="password-done">Password changed. Your other sessions have ended; this one goes on.</p>
        }
        <button mat-flat-button type="submit" [disabled]="form.invalid || busy()" data-testid="password-submit">Change password</button>
      </form>
    }
  `,
  styles: `
    .form { display: flex; flex-direction: column; gap: 8px; max-width: 420px; }
    .error { color: var(--mat-sys-error); }
  `,
})
export class PasswordPage {
  private readonly authApi = inject(AuthApi);
  protected readonly session = inject(SessionService);
  protected readonly minPasswordLength = MIN_PASSWORD_LENGTH;
  protected readonly builtIn = computed(() => this.session.username() === BUILT_IN_ADMIN);
  /** An account of the OpenID provider (`oidc:<sub>`): no local password. */
  protected readonly sso = computed(() => this.session.username()?.startsWith('oidc:') === true);
  protected readonly busy = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly done = signal(false);

  protected readonly form = new FormGroup(
    {
      current: new FormControl('', { nonNullable: true, validators: [Validators.required] }),
      next: new FormControl('', { nonNullable: true, validators: [Validators.required, Validators.minLength(MIN_PASSWORD_LENGTH)] }),
      repeat: new FormControl('', { nonNullable: true, validators: [Validators.required] }),
    },
    { validators: sameAsNew },
  );

  protected submit(directive?: FormGroupDirective): void {
    if (this.form.invalid || this.busy()) return;
    const { current, next } = this.form.getRawValue();
    this.busy.set(true);
    this.error.set(null);
    this.done.set(false);
    this.authApi
      .changePassword({ current_password: current, new_password: next })
      .pipe(finalize(() => this.busy.set(false)))
      .subscribe({
        next: () => {
          this.done.set(true);
          if (directive) directive.resetForm();
          else this.form.reset();
        },
        error: (error: unknown) => this.error.set(failure(error)),
      });
  }
}

function failure(error: unknown): string {
  if (error instanceof ApiError && error.status === 400 && error.message === 'wrong current password') return 'The current password is wrong.';
  if (error instanceof ApiError && error.status === 429) {
    return error.retryAfter !== null ? `Too many wrong passwords; try again in ${error.retryAfter} s.` : errorMessage(error);
  }
  return errorMessage(error);
}
