import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { ReactiveFormsModule } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MAT_DIALOG_DATA, MatDialogModule, MatDialogRef } from '@angular/material/dialog';
import type { ApiKeyWithUsage } from '../../api/admin-api.types';
import { KeysApi } from '../../api/keys-api.service';
import { errorMessage } from '../../core/api-error';
import { LimitFieldsComponent, limitsForm, limitsOf } from './limit-fields.component';

@Component({
  selector: 'app-quota-dialog',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [ReactiveFormsModule, MatDialogModule, MatButtonModule, LimitFieldsComponent],
  template: `
    <h2 mat-dialog-title>Quota of {{ key.name }}</h2>
    <form [formGroup]="form" (ngSubmit)="save()">
      <mat-dialog-content>
        <p class="hint">Day and month windows follow the server's time zone. Lowering a limit below what was already used refuses the key's next request.</p>
        <app-limit-fields [form]="form" prefix="quota" />
        @if (error(); as error) {
          <p class="error" role="alert" data-testid="quota-error">{{ error }}</p>
        }
      </mat-dialog-content>
      <mat-dialog-actions align="end">
        <button mat-button type="button" mat-dialog-close data-testid="quota-cancel">Cancel</button>
        <button mat-flat-button type="submit" [disabled]="busy() || form.invalid" data-testid="quota-submit">Save quota</button>
      </mat-dialog-actions>
    </form>
  `,
  styles: `.hint { color: var(--mat-sys-on-surface-variant); font-size: 13px; } .error { color: var(--mat-sys-error); }`,
})
export class QuotaDialog {
  private readonly keysApi = inject(KeysApi);
  private readonly dialogRef = inject<MatDialogRef<QuotaDialog, ApiKeyWithUsage>>(MatDialogRef);
  protected readonly key = inject<ApiKeyWithUsage>(MAT_DIALOG_DATA);

  protected readonly form = limitsForm(this.key);
  protected readonly busy = signal(false);
  protected readonly error = signal<string | null>(null);

  protected save(): void {
    if (this.form.invalid || this.busy()) return;
    this.busy.set(true);
    this.error.set(null);
    this.keysApi.setQuota(this.key.id, limitsOf(this.form)).subscribe({
      next: (updated) => this.dialogRef.close(updated),
      error: (error: unknown) => {
        this.busy.set(false);
        this.error.set(errorMessage(error));
      },
    });
  }
}
