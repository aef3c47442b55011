import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { IfCanWriteDirective } from '../../shared/if-can-write.directive';
import { ViewerNoticeComponent } from '../../shared/viewer-notice.component';
import { MatDialog } from '@angular/material/dialog';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSnackBar } from '@angular/material/snack-bar';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { Subject, filter, finalize, startWith, switchMap, type Observable } from 'rxjs';
import type { ApiKeyWithSecret, ApiKeyWithUsage } from '../../api/admin-api.types';
import { KeysApi } from '../../api/keys-api.service';
import { confirm } from '../../shared/confirm.dialog';
import { newestAnswers } from '../../shared/newest-answers';
import { KeyFormDialog, type KeyFormData, type KeyFormResult } from './key-form.dialog';
import { KeyTableComponent } from './key-table.component';
import { NewKeyDialog, type NewKeyData } from './new-key.dialog';
import { QuotaDialog } from './quota.dialog';

@Component({
  selector: 'app-keys-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [KeyTableComponent, MatButtonModule, MatProgressBarModule, IfCanWriteDirective, ViewerNoticeComponent],
  template: `
    <header class="page-header">
      <h1>API keys</h1>
      <span class="spacer"></span>
      <button mat-stroked-button type="button" (click)="reload()" [disabled]="loading()" data-testid="keys-refresh">Refresh</button>
      <button *appIfCanWrite mat-flat-button type="button" (click)="create()" data-testid="key-create">New key</button>
    </header>
    <app-viewer-notice />
    @if (loading()) {
      <mat-progress-bar mode="indeterminate" />
    }
    @if (loadError(); as error) {
      <p class="error" role="alert" data-testid="keys-error">Could not load the keys: {{ error }}</p>
    }
    @if (keys(); as keys) {
      <app-key-table
        [keys]="keys"
        [now]="loadedAt()"
        [busy]="acting()"
        (edit)="edit($event)"
        (quota)="editQuota($event)"
        (rotate)="rotate($event)"
        (setActive)="setActive($event.key, $event.active)"
        (remove)="remove($event)"
      />
    }
  `,
  styles: `
    .page-header { display: flex; align-items: center; gap: 8px; }
    .spacer { flex: 1; }
    .error { color: var(--mat-sys-error); }
  `,
})
export class KeysPage {
  private readonly keysApi = inject(KeysApi);
  private readonly dialog = inject(MatDialog);
  private readonly snackBar = inject(MatSnackBar);

  protected readonly keys = signal<ApiKeyWithUsage[] | null>(null);
  protected readonly loadedAt = signal(new Date());
  protected readonly loading = signal(true);
  protected readonly loadError = signal<string | null>(null);
  protected readonly acting = signal(false);
  private readonly reloads = new Subject<void>();

  constructor() {
    newestAnswers(this.reloads.pipe(startWith(undefined)), () => this.keysApi.list())
      .pipe(takeUntilDestroyed())
      .subscribe(({ value: keys, error }) => {
        this.loading.set(false);
        this.loadError.set(error);
        // A failed reload keeps the last list on screen, under the error.
        if (keys) {
          this.keys.set(keys);
          this.loadedAt.set(new Date());
        }
      });
  }

  protected reload(): void {
    this.loading.set(true);
    this.reloads.next();
  }

  protected create(): void {
    this.openKeyForm({ mode: 'create' }).subscribe((created) => {
      this.showSecret({ key: created as ApiKeyWithSecret, reason: 'created' });
      this.reload();
    });
  }

  protected edit(key: ApiKeyWithUsage): void {
    this.openKeyForm({ mode: 'edit', key }).subscribe((updated) => {
      this.snackBar.open(`Saved ${updated.name}.`, undefined, { duration: 3000 });
      this.reload();
    });
  }

  protected editQuota(key: ApiKeyWithUsage): void {
    this.dialog
      .open<QuotaDialog, ApiKeyWithUsage, ApiKeyWithUsage>(QuotaDialog, { data: key, width: '560px' })
      .afterClosed()
      .pipe(filter(saved))
      .subscribe((updated) => {
        this.snackBar.open(`Saved the quota of ${updated.name}.`, undefined, { duration: 3000 });
        this.reload();
      });
  }

  protected rotate(key: ApiKeyWithUsage): void {
    confirm(this.dialog, {
      title: `Rotate ${key.name}?`,
      message: 'A new secret replaces the current one, which stops working at once. Usage and limits are kept.',
      confirm: 'Rotate',
      danger: true,
    })
      .pipe(
        filter(Boolean),
        switchMap(() => this.act(this.keysApi.rotate(key.id))),
      )
      .subscribe({ next: (rotated) => this.showSecret({ key: rotated, reason: 'rotated' }), error: shownBySnackbar });
  }

  protected setActive(key: ApiKeyWithUsage, active: boolean): void {
    this.act(this.keysApi.setActive(key.id, active)).subscribe({
      next: () => this.snackBar.open(`${key.name} ${active ? 'activated' : 'deactivated'}.`, undefined, { duration: 3000 }),
      error: shownBySnackbar,
    });
  }

  protected remove(key: ApiKeyWithUsage): void {
    confirm(this.dialog, {
      title: `Delete ${key.name}?`,
      message: 'Clients using this key are refused from now on. This cannot be undone.',
      confirm: 'Delete',
      danger: true,
    })
      .pipe(
        filter(Boolean),
        switchMap(() => this.act(this.keysApi.delete(key.id))),
      )
      .subscribe({ next: () => this.snackBar.open(`Deleted ${key.name}.`, undefined, { duration: 3000 }), error: shownBySnackbar });
  }

  private openKeyForm(data: KeyFormData): Observable<KeyFormResult> {
    return this.dialog
      .open<KeyFormDialog, KeyFormData, KeyFormResult>(KeyFormDialog, { data, width: '640px' })
      .afterClosed()
      .pipe(filter(saved));
  }

  private showSecret(data: NewKeyData): void {
    // No closing by a stray click or Escape: the secret cannot be shown again.
    this.dialog.open(NewKeyDialog, { data, width: '820px', disableClose: true });
  }

  /** A row action: the table waits, the list reloads afterwards; failures reach the snackbar through the interceptor. */
  private act<T>(request: Observable<T>): Observable<T> {
    this.acting.set(true);
    return request.pipe(
      finalize(() => {
        this.acting.set(false);
        this.reload();
      }),
    );
  }
}

/** A dialog closed by saving hands back the key; Cancel (`mat-dialog-close` without a value) closes with '', Escape with undefined. */
function saved<T extends object>(result: T | '' | undefined): result is T {
  return typeof result === 'object' && result !== null;
}

/** The interceptor has already put the API's message in a snackbar; the subscriber only keeps it from surfacing twice. */
function shownBySnackbar(): void {}
