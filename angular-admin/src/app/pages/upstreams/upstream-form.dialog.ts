import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { type AbstractControl, FormControl, FormGroup, ReactiveFormsModule, type ValidationErrors, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MAT_DIALOG_DATA, MatDialogModule, MatDialogRef } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import type { Observable } from 'rxjs';
import type { CreateUpstreamRequest, UpdateUpstreamRequest, UpstreamView } from '../../api/admin-api.types';
import { UpstreamsApi } from '../../api/upstreams-api.service';
import { errorMessage } from '../../core/api-error';

export type UpstreamFormData = { mode: 'create' } | { mode: 'edit'; upstream: UpstreamView };

/** The server's defaults for a new upstream (libs/upstreams). */
export const UPSTREAM_DEFAULTS = { max_parallel: 4, reserved_slots: 0, priority: 0, enabled: true } as const;

const WHOLE_NUMBER = /^\d+$/;
const INTEGER = /^-?\d+$/;

@Component({
  selector: 'app-upstream-form-dialog',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [ReactiveFormsModule, MatDialogModule, MatButtonModule, MatCheckboxModule, MatFormFieldModule, MatInputModule],
  templateUrl: './upstream-form.dialog.html',
  styles: `
    /* The gaps keep a hint clear of the next field's floating label; narrow columns wrapped hints into it. */
    .fields { display: flex; flex-direction: column; gap: 12px; padding-top: 8px; min-width: min(520px, 100%); }
    .row { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; }
    .error { color: var(--mat-sys-error); }
  `,
})
export class UpstreamFormDialog {
  private readonly upstreamsApi = inject(UpstreamsApi);
  private readonly dialogRef = inject<MatDialogRef<UpstreamFormDialog, UpstreamView>>(MatDialogRef);
  protected readonly data = inject<UpstreamFormData>(MAT_DIALOG_DATA);
  private readonly original = this.data.mode === 'edit' ? this.data.upstream : null;

  protected readonly form = new FormGroup(
    {
      name: new FormControl(this.original?.name ?? '', { nonNullable: true, validators: [Validators.required, Validators.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)] }),
      url: new FormControl(this.original?.url ?? '', { nonNullable: true, validators: [Validators.required, Validators.pattern(/^https?:\/\/[^\s/?#]+[^\s?#]*$/)] }),
      max_parallel: new FormControl<number | null>(this.original?.max_parallel ?? UPSTREAM_DEFAULTS.max_parallel, [Validators.required, Validators.min(1), Validators.max(1024), Validators.pattern(WHOLE_NUMBER)]),
      reserved_slots: new FormControl<number | null>(reservedOf(this.original), [Validators.required, Validators.min(0), Validators.pattern(WHOLE_NUMBER)]),
      priority: new FormControl<number | null>(this.original?.priority ?? UPSTREAM_DEFAULTS.priority, [Validators.required, Validators.min(-1000), Validators.max(1000), Validators.pattern(INTEGER)]),
      enabled: new FormControl<boolean>(this.original?.enabled ?? UPSTREAM_DEFAULTS.enabled, { nonNullable: true }),
    },
    { validators: reservedBelowMax },
  );

  protected readonly busy = signal(false);
  protected readonly error = signal<string | null>(null);

  protected save(): void {
    if (this.form.invalid || this.busy()) return;
    this.busy.set(true);
    this.error.set(null);
    const request$: Observable<UpstreamView> = this.original ? this.upstreamsApi.update(this.original.id, this.changes(this.original)) : this.upstreamsApi.create(this.createRequest());
    request$.subscribe({
      next: (result) => this.dialogRef.close(result),
      error: (error: unknown) => {
        this.busy.set(false);
        this.error.set(errorMessage(error));
      },
    });
  }

  /** Defaults are left to the server, so a gateway without reserved slots still accepts the form. */
  private createRequest(): CreateUpstreamRequest {
    const value = this.form.getRawValue();
    const request: CreateUpstreamRequest = { name: value.name.trim(), url: value.url.trim() };
    if (Number(value.max_parallel) !== UPSTREAM_DEFAULTS.max_parallel) request.max_parallel = Number(value.max_parallel);
    if (Number(value.reserved_slots) !== UPSTREAM_DEFAULTS.reserved_slots) request.reserved_slots = Number(value.reserved_slots);
    if (Number(value.priority) !== UPSTREAM_DEFAULTS.priority) request.priority = Number(value.priority);
    if (value.enabled !== UPSTREAM_DEFAULTS.enabled) request.enabled = value.enabled;
    return request;
  }

  /** Only what changed: above all the URL, which the server shows with its password masked. */
  private changes(original: UpstreamView): UpdateUpstreamRequest {
    const value = this.form.getRawValue();
    const changes: UpdateUpstreamRequest = {};
    if (value.name.trim() !== original.name) changes.name = value.name.trim();
    if (value.url.trim() !== original.url) changes.url = value.url.trim();
    if (Number(value.max_parallel) !== original.max_parallel) changes.max_parallel = Number(value.max_parallel);
    if (Number(value.reserved_slots) !== reservedOf(original)) changes.reserved_slots = Number(value.reserved_slots);
    if (Number(value.priority) !== original.priority) changes.priority = Number(value.priority);
    if (value.enabled !== original.enabled) changes.enabled = value.enabled;
    return changes;
  }
}

/** 0 when the server does not report reserved slots (a gateway from before them). */
export function reservedOf(upstream: UpstreamView | null): number {
  return typeof upstream?.reserved_slots === 'number' ? upstream.reserved_slots : UPSTREAM_DEFAULTS.reserved_slots;
}

/** The server refuses reserved slots that leave none for keys already running there. */
function reservedBelowMax(form: AbstractControl): ValidationErrors | null {
  const max = form.get('max_parallel');
  const reserved = form.get('reserved_slots');
  if (!max || !reserved || max.invalid || reserved.invalid) return null;
  return Number(reserved.value) >= Number(max.value) ? { reservedBelowMax: true } : null;
}
