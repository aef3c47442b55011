import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormControl, FormGroup, type FormGroupDirective, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSelectModule } from '@angular/material/select';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { Subject, filter, finalize, startWith, switchMap } from 'rxjs';
import { AccountsApi } from '../../api/accounts-api.service';
import type { AccountView, AdminRole } from '../../api/admin-api.types';
import { errorMessage } from '../../core/api-error';
import { SessionService } from '../../core/session.service';
import { confirm } from '../../shared/confirm.dialog';
import { newestAnswers } from '../../shared/newest-answers';
import { MIN_PASSWORD_LENGTH } from '../../shared/password-rules';

/** Case aside: the server compares usernames in lower case, and so sends this page. */
const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/i;

/**
 * Named admin accounts, for admins: create one with a role and a first password, switch its role,
 * set a new password (which ends its sessions), delete it. ADMIN_PASSWORD's built-in "admin" is
 * not listed: it lives in the server's environment.
 */
@Component({
  selector: 'app-accounts-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [ReactiveFormsModule, MatButtonModule, MatFormFieldModule, MatInputModule, MatSelectModule, MatProgressBarModule, DatePipe],
  template: `
    <header class="page-header">
      <h1>Accounts</h1>
      <span class="spacer"></span>
      <button mat-stroked-button type="button" (click)="reload()" [disabled]="loading()" data-testid="accounts-refresh">Refresh</button>
    </header>
    <p class="hint">
      Admins may change everything; viewers read keys, usage, upstreams, settings and the audit log and change nothing.
      ADMIN_PASSWORD always logs in as the built-in <strong>admin</strong>.
    </p>

    <form class="create" [formGroup]="form" #createForm="ngForm" (ngSubmit)="create(createForm)" data-testid="account-create-form">
      <h2>New account</h2>
      <div class="fields">
        <mat-form-field appearance="outline">
          <mat-label>Username</mat-label>
          <input matInput autocomplete="off" autocapitalize="none" spellcheck="false" formControlName="username" data-testid="account-username" />
          @if (form.controls.username.hasError('pattern')) {
            <mat-error>a-z, 0-9 and . _ &#64; -, at most 64</mat-error>
          }
        </mat-form-field>
        <mat-form-field appearance="outline">
          <mat-label>Role</mat-label>
          <mat-select formControlName="role" data-testid="account-role">
            <mat-option value="viewer">viewer</mat-option>
            <mat-option value="admin">admin</mat-option>
          </mat-select>
        </mat-form-field>
        <mat-form-field appearance="outline">
          <mat-label>Password</mat-label>
          <input matInput type="password" autocomplete="new-password" formControlName="password" data-testid="account-password" />
          <mat-hint>At least {{ minPasswordLength }} characters</mat-hint>
        </mat-form-field>
      </div>
      @if (createError(); as error) {
        <p class="error" role="alert" data-testid="account-create-error">{{ error }}</p>
      }
      <button mat-flat-button type="submit" [disabled]="form.invalid || busy()" data-testid="account-create">Create account</button>
    </form>

    @if (loading()) {
      <mat-progress-bar mode="indeterminate" />
    }
    @if (loadError(); as error) {
      <p class="error" role="alert" data-testid="accounts-error">Could not load the accounts: {{ error }}</p>
    }
    <ul class="accounts" data-testid="accounts-list">
      @for (account of accounts(); track account.id) {
        <li class="account" [attr.data-testid]="'account-' + account.username">
          <div class="who">
            <strong>{{ account.username }}</strong>
            <span class="role" [class.admin]="account.role === 'admin'" [attr.data-testid]="'account-role-' + account.username">{{ account.role }}</span>
            @if (account.username === session.username()) {
              <span class="hint">(you)</span>
            }
            <span class="hint">password set {{ account.password_changed_at | date: 'yyyy-MM-dd HH:mm' }}</span>
          </div>
          <div class="actions">
            <button mat-button type="button" [disabled]="busy()" (click)="setRole(account, account.role === 'admin' ? 'viewer' : 'admin')" [attr.data-testid]="'account-toggle-role-' + account.username">
              {{ account.role === 'admin' ? 'Make viewer' : 'Make admin' }}
            </button>
            <button mat-button type="button" [disabled]="busy()" (click)="startReset(account)" [attr.data-testid]="'account-reset-' + account.username">New password</button>
            <button mat-button type="button" class="danger" [disabled]="busy()" (click)="remove(account)" [attr.data-testid]="'account-delete-' + account.username">Delete</button>
          </div>
          @if (resetting() === account.id) {
            <form class="reset" [formGroup]="resetForm" (ngSubmit)="reset(account)">
              <mat-form-field appearance="outline">
                <mat-label>New password for {{ account.username }}</mat-label>
                <input matInput type="password" autocomplete="new-password" formControlName="password" [attr.data-testid]="'account-reset-password-' + account.username" />
                <mat-hint>Ends the account's sessions</mat-hint>
              </mat-form-field>
              <button mat-flat-button type="submit" [disabled]="resetForm.invalid || busy()" [attr.data-testid]="'account-reset-save-' + account.username">Set password</button>
              <button mat-button type="button" (click)="resetting.set(null)">Cancel</button>
            </form>
          }
          @if (rowErrors()[account.id]; as error) {
            <p class="error" role="alert" [attr.data-testid]="'account-error-' + account.username">{{ error }}</p>
          }
        </li>
      } @empty {
        @if (!loading()) {
          <li class="empty" data-testid="accounts-empty">No named accounts yet: only the built-in admin (ADMIN_PASSWORD) can log in.</li>
        }
      }
    </ul>
    @if (notice(); as notice) {
      <p class="notice" role="status" data-testid="accounts-notice">{{ notice }}</p>
    }
  `,
  styles: `
    .page-header { display: flex; align-items: center; gap: 8px; }
    .spacer { flex: 1; }
    .hint { color: var(--mat-sys-on-surface-variant); font-size: 13px; }
    .error { color: var(--mat-sys-error); }
    .create { margin: 16px 0; max-width: 900px; }
    .create h2 { font-size: 16px; margin: 0 0 8px; }
    .fields, .reset { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-start; }
    .fields mat-form-field { flex: 1 1 200px; min-width: 0; }
    .reset mat-form-field { flex: 1 1 240px; min-width: 0; }
    .accounts { list-style: none; padding: 0; margin: 16px 0; max-width: 900px; }
    .account { border-bottom: 1px solid var(--mat-sys-outline-variant); padding: 8px 0; }
    .who { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; overflow-wrap: anywhere; }
    .role { font-size: 12px; padding: 0 8px; border-radius: 8px; background: var(--mat-sys-surface-container-high); }
    .role.admin { background: var(--mat-sys-primary-container); color: var(--mat-sys-on-primary-container); }
    .actions { display: flex; flex-wrap: wrap; gap: 4px; }
    .danger { color: var(--mat-sys-error); }
    .empty { padding: 16px 0; color: var(--mat-sys-on-surface-variant); }
  `,
})
export class AccountsPage {
  private readonly api = inject(AccountsApi);
  private readonly dialog = inject(MatDialog);
  protected readonly session = inject(SessionService);
  protected readonly minPasswordLength = MIN_PASSWORD_LENGTH;

  protected readonly accounts = signal<AccountView[]>([]);
  protected readonly loading = signal(true);
  protected readonly busy = signal(false);
  protected readonly loadError = signal<string | null>(null);
  protected readonly createError = signal<string | null>(null);
  protected readonly rowErrors = signal<Record<number, string>>({});
  protected readonly notice = signal<string | null>(null);
  protected readonly resetting = signal<number | null>(null);

  protected readonly form = new FormGroup({
    username: new FormControl('', { nonNullable: true, validators: [Validators.required, Validators.pattern(USERNAME)] }),
    role: new FormControl<AdminRole>('viewer', { nonNullable: true }),
    password: new FormControl('', { nonNullable: true, validators: [Validators.required, Validators.minLength(MIN_PASSWORD_LENGTH)] }),
  });
  protected readonly resetForm = new FormGroup({
    password: new FormControl('', { nonNullable: true, validators: [Validators.required, Validators.minLength(MIN_PASSWORD_LENGTH)] }),
  });

  private readonly reloads = new Subject<void>();

  constructor() {
    newestAnswers(this.reloads.pipe(startWith(undefined)), () => this.api.list())
      .pipe(takeUntilDestroyed())
      .subscribe(({ value: accounts, error }) => {
        this.loading.set(false);
        this.loadError.set(error);
        if (accounts) this.accounts.set(accounts);
      });
  }

  protected reload(): void {
    this.loading.set(true);
    this.reloads.next();
  }

  /** `directive`: to clear the submitted state too, or the emptied fields would show as errors. */
  protected create(directive?: FormGroupDirective): void {
    if (this.form.invalid || this.busy()) return;
    const { username, role, password } = this.form.getRawValue();
    this.busy.set(true);
    this.createError.set(null);
    this.api
      .create({ username: username.trim().toLowerCase(), role, password })
      .pipe(finalize(() => this.busy.set(false)))
      .subscribe({
        next: (account) => {
          this.accounts.update((accounts) => [...accounts, account]);
          const empty = { username: '', role: 'viewer' as const, password: '' };
          if (directive) directive.resetForm(empty);
          else this.form.reset(empty);
          this.notice.set(`Created ${account.username} (${account.role}).`);
        },
        error: (error: unknown) => this.createError.set(errorMessage(error)),
      });
  }

  protected setRole(account: AccountView, role: AdminRole): void {
    this.write(account, this.api.update(account.id, { role }), `${account.username} is now ${role === 'admin' ? 'an admin' : 'a viewer'}.`);
  }

  protected startReset(account: AccountView): void {
    this.resetForm.reset({ password: '' });
    this.resetting.set(account.id);
  }

  protected reset(account: AccountView): void {
    if (this.resetForm.invalid) return;
    this.write(account, this.api.update(account.id, { password: this.resetForm.getRawValue().password }), `New password set for ${account.username}; its sessions ended.`, () => this.resetting.set(null));
  }

  protected remove(account: AccountView): void {
    confirm(this.dialog, { title: `Delete ${account.username}?`, message: `${account.username} can no longer log in, and its open sessions end now.`, confirm: 'Delete', danger: true })
      .pipe(
        filter((confirmed) => confirmed === true),
        switchMap(() => {
          this.busy.set(true);
          this.setRowError(account.id, null);
          return this.api.delete(account.id).pipe(finalize(() => this.busy.set(false)));
        }),
      )
      .subscribe({
        next: () => {
          this.accounts.update((accounts) => accounts.filter((a) => a.id !== account.id));
          this.notice.set(`Deleted ${account.username}.`);
        },
        error: (error: unknown) => this.setRowError(account.id, errorMessage(error)),
      });
  }

  private write(account: AccountView, request: ReturnType<AccountsApi['update']>, done: string, then?: () => void): void {
    this.busy.set(true);
    this.setRowError(account.id, null);
    request.pipe(finalize(() => this.busy.set(false))).subscribe({
      next: (updated) => {
        this.accounts.update((accounts) => accounts.map((a) => (a.id === updated.id ? updated : a)));
        this.notice.set(done);
        then?.();
      },
      error: (error: unknown) => this.setRowError(account.id, errorMessage(error)),
    });
  }

  private setRowError(id: number, error: string | null): void {
    this.rowErrors.update((errors) => {
      const next = { ...errors };
      if (error === null) delete next[id];
      else next[id] = error;
      return next;
    });
  }
}
