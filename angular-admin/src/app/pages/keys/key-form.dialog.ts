import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { FormControl, FormGroup, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MAT_DIALOG_DATA, MatDialogModule, MatDialogRef } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatSelectModule } from '@angular/material/select';
import { catchError, map, of, type Observable } from 'rxjs';
import type { ApiKeyWithSecret, ApiKeyWithUsage, CreateApiKeyRequest, QuotaLimits, UpdateApiKeyRequest } from '../../api/admin-api.types';
import { KeysApi } from '../../api/keys-api.service';
import { OllamaApi } from '../../api/ollama-api.service';
import { errorMessage } from '../../core/api-error';
import { fromLocalInput, toLocalInput } from '../../shared/datetime';
import { LimitFieldsComponent, limitsForm, limitsOf } from './limit-fields.component';

export type KeyFormData = { mode: 'create' } | { mode: 'edit'; key: ApiKeyWithUsage };
export type KeyFormResult = ApiKeyWithSecret | ApiKeyWithUsage;

/** The server's bounds and default for a key's queue weight. */
const DEFAULT_QUEUE_WEIGHT = 1;
const MAX_QUEUE_WEIGHT = 100;

@Component({
  selector: 'app-key-form-dialog',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [ReactiveFormsModule, MatDialogModule, MatButtonModule, MatFormFieldModule, MatInputModule, MatSelectModule, LimitFieldsComponent],
  templateUrl: './key-form.dialog.html',
  styles: `
    /* Hints take the height they need (subscriptSizing="dynamic") and a gap keeps them clear of the next field's floating label. */
    .fields { display: flex; flex-direction: column; gap: 12px; padding-top: 8px; min-width: min(520px, 100%); }
    .row { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; }
    h3 { font-size: 14px; margin: 8px 0; }
    .error { color: var(--mat-sys-error); }
  `,
})
export class KeyFormDialog {
  private readonly keysApi = inject(KeysApi);
  private readonly dialogRef = inject<MatDialogRef<KeyFormDialog, KeyFormResult>>(MatDialogRef);
  protected readonly data = inject<KeyFormData>(MAT_DIALOG_DATA);
  private readonly original = this.data.mode === 'edit' ? this.data.key : null;

  protected readonly form = new FormGroup({
    name: new FormControl(this.original?.name ?? '', { nonNullable: true, validators: [Validators.required, Validators.maxLength(100)] }),
    expires: new FormControl(toLocalInput(this.original?.expires_at ?? null), { nonNullable: true }),
    allowed_models: new FormControl<string[]>(this.original?.allowed_models ?? [], { nonNullable: true }),
    max_concurrent: new FormControl<number | null>(this.original?.max_concurrent ?? null, [Validators.min(1), Validators.pattern(/^\d+$/)]),
    queue_weight: new FormControl<number | null>(weightOf(this.original), [Validators.required, Validators.min(1), Validators.max(MAX_QUEUE_WEIGHT), Validators.pattern(/^\d+$/)]),
  });
  protected readonly maxQueueWeight = MAX_QUEUE_WEIGHT;
  protected readonly limits = limitsForm();

  /** Ollama's models, plus any the key already allows (Ollama may be down or may have lost one). */
  private readonly ollamaModels = toSignal(
    inject(OllamaApi).models().pipe(
      map((models) => models.map((model) => model.name)),
      // The interceptor already showed why; the select still offers the key's own models.
      catchError(() => of<string[]>([])),
    ),
    { initialValue: [] as string[] },
  );
  protected readonly modelOptions = computed(() => [...new Set([...this.ollamaModels(), ...(this.original?.allowed_models ?? [])])].sort());

  protected readonly busy = signal(false);
  protected readonly error = signal<string | null>(null);

  protected save(): void {
    if (this.form.invalid || this.limits.invalid || this.busy()) return;
    this.busy.set(true);
    this.error.set(null);
    const request$: Observable<KeyFormResult> = this.original ? this.keysApi.update(this.original.id, this.changes(this.original)) : this.keysApi.create(this.createRequest());
    request$.subscribe({
      next: (result) => this.dialogRef.close(result),
      error: (error: unknown) => {
        this.busy.set(false);
        this.error.set(errorMessage(error));
      },
    });
  }

  private createRequest(): CreateApiKeyRequest {
    const value = this.form.getRawValue();
    const request: CreateApiKeyRequest = { name: value.name.trim() };
    const expiresAt = fromLocalInput(value.expires);
    if (expiresAt !== null) request.expires_at = expiresAt;
    if (value.allowed_models.length > 0) request.allowed_models = value.allowed_models;
    if (value.max_concurrent !== null) request.max_concurrent = value.max_concurrent;
    if (Number(value.queue_weight) !== DEFAULT_QUEUE_WEIGHT) request.queue_weight = Number(value.queue_weight);
    const limits = limitsOf(this.limits);
    for (const name of Object.keys(limits) as (keyof QuotaLimits)[]) {
      if (limits[name] !== null) request[name] = limits[name];
    }
    return request;
  }

  /** Only what changed: resending an unchanged expiry that has since passed would be refused. */
  private changes(original: ApiKeyWithUsage): UpdateApiKeyRequest {
    const value = this.form.getRawValue();
    const changes: UpdateApiKeyRequest = {};
    if (value.name.trim() !== original.name) changes.name = value.name.trim();
    if (value.expires !== toLocalInput(original.expires_at)) changes.expires_at = fromLocalInput(value.expires);
    const models = value.allowed_models.length > 0 ? [...value.allowed_models].sort() : null;
    const originalModels = original.allowed_models ? [...original.allowed_models].sort() : null;
    if (JSON.stringify(models) !== JSON.stringify(originalModels)) changes.allowed_models = models;
    if (value.max_concurrent !== original.max_concurrent) changes.max_concurrent = value.max_concurrent;
    if (Number(value.queue_weight) !== weightOf(original)) changes.queue_weight = Number(value.queue_weight);
    return changes;
  }
}

/** A gateway from before queue weights answers none: every key then has the default. */
function weightOf(key: ApiKeyWithUsage | null): number {
  return typeof key?.queue_weight === 'number' ? key.queue_weight : DEFAULT_QUEUE_WEIGHT;
}
