import { ChangeDetectionStrategy, Component, input } from '@angular/core';
import { FormControl, FormGroup, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import type { QuotaLimits } from '../../api/admin-api.types';

export type LimitsForm = FormGroup<{ [K in keyof QuotaLimits]: FormControl<number | null> }>;

const LIMIT_FIELDS: readonly { name: keyof QuotaLimits; label: string; testid: string }[] = [
  { name: 'daily_request_limit', label: 'Requests per day', testid: 'daily-requests' },
  { name: 'monthly_request_limit', label: 'Requests per month', testid: 'monthly-requests' },
  { name: 'daily_token_limit', label: 'Tokens per day', testid: 'daily-tokens' },
  { name: 'monthly_token_limit', label: 'Tokens per month', testid: 'monthly-tokens' },
];

const limitControl = (value: number | null) => new FormControl<number | null>(value, [Validators.min(0), Validators.pattern(/^\d+$/)]);

export function limitsForm(limits: Partial<QuotaLimits> = {}): LimitsForm {
  return new FormGroup({
    daily_token_limit: limitControl(limits.daily_token_limit ?? null),
    monthly_token_limit: limitControl(limits.monthly_token_limit ?? null),
    daily_request_limit: limitControl(limits.daily_request_limit ?? null),
    monthly_request_limit: limitControl(limits.monthly_request_limit ?? null),
  });
}

/** A blank field is no limit. */
export function limitsOf(form: LimitsForm): QuotaLimits {
  const value = form.getRawValue();
  const clean = (n: number | null) => (n === null || Number.isNaN(n) ? null : n);
  return {
    daily_token_limit: clean(value.daily_token_limit),
    monthly_token_limit: clean(value.monthly_token_limit),
    daily_request_limit: clean(value.daily_request_limit),
    monthly_request_limit: clean(value.monthly_request_limit),
  };
}

/** The four quota inputs, shared by the create and quota dialogs; `prefix` keeps their test ids apart. */
@Component({
  selector: 'app-limit-fields',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [ReactiveFormsModule, MatFormFieldModule, MatInputModule],
  template: `
    <div class="limits" [formGroup]="form()">
      @for (field of fields; track field.name) {
        <mat-form-field appearance="outline" subscriptSizing="dynamic">
          <mat-label>{{ field.label }}</mat-label>
          <input matInput type="number" min="0" step="1" placeholder="unlimited" [formControlName]="field.name" [attr.data-testid]="prefix() + '-' + field.testid + '-input'" />
          <mat-hint>blank: unlimited</mat-hint>
          @if (form().controls[field.name].invalid) {
            <mat-error>a whole number, 0 or more</mat-error>
          }
        </mat-form-field>
      }
    </div>
  `,
  // One column when two would cut the labels ("Requests pe…"); the row gap keeps a hint clear of the next floating label.
  styles: `.limits { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; padding-top: 8px; }`,
})
export class LimitFieldsComponent {
  readonly form = input.required<LimitsForm>();
  readonly prefix = input.required<string>();
  protected readonly fields = LIMIT_FIELDS;
}
