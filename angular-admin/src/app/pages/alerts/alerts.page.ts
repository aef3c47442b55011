import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, InjectionToken, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { FormControl, FormGroup, type FormGroupDirective, ReactiveFormsModule, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { MatCheckboxModule } from '@angular/material/checkbox';
import { MatDialog } from '@angular/material/dialog';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSelectModule } from '@angular/material/select';
import { type Observable, Subject, filter, finalize, forkJoin, merge, timer } from 'rxjs';
import { AlertsApi } from '../../api/alerts-api.service';
import type { AlertDeliveryView, AlertEvent, AlertFormat, AlertWebhookView, UpdateAlertWebhookRequest } from '../../api/admin-api.types';
import { errorMessage } from '../../core/api-error';
import { confirm } from '../../shared/confirm.dialog';
import { newestAnswers } from '../../shared/newest-answers';
import { IfCanWriteDirective } from '../../shared/if-can-write.directive';
import { ViewerNoticeComponent } from '../../shared/viewer-notice.component';

/** How often the open page reads the deliveries again (retries change them). */
export const ALERTS_REFRESH_MS = new InjectionToken<number>('ALERTS_REFRESH_MS', { factory: () => 10_000 });

/** Every event a webhook can ask for, with its label (a new event on the server breaks this build until it has one). */
export const EVENT_LABELS: Record<Exclude<AlertEvent, 'test'>, string> = {
  'key.quota_80': 'Key at 80 % of a limit',
  'key.quota_100': 'Key at 100 % of a limit',
  'key.expiring': 'Key expires within 7 days',
  'upstream.down': 'Ollama server down',
  'upstream.up': 'Ollama server back',
  'database.error': 'Database error',
  'database.recovered': 'Database back',
};
const EVENTS = Object.keys(EVENT_LABELS) as Exclude<AlertEvent, 'test'>[];
const FORMAT_LABELS: Record<AlertFormat, string> = { json: 'JSON (signed)', slack: 'Slack', teams: 'Microsoft Teams' };

/**
 * Alerts: the webhooks events go to (add, edit, enable or disable, send a test, remove) and the
 * latest deliveries with their status, attempts and last error. A secret is typed, never shown:
 * the list says only whether a webhook has one; editing leaves it as it is unless a new one is typed.
 */
@Component({
  selector: 'app-alerts-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [ReactiveFormsModule, MatButtonModule, MatCheckboxModule, MatFormFieldModule, MatInputModule, MatSelectModule, MatProgressBarModule, DatePipe, IfCanWriteDirective, ViewerNoticeComponent],
  template: `
    <header class="page-header">
      <h1>Alerts</h1>
      <span class="spacer"></span>
      <button mat-stroked-button type="button" (click)="reload()" data-testid="alerts-refresh">Refresh</button>
    </header>
    <p class="hint">
      Webhooks get a POST for each event they ask for: a key at 80 % and at 100 % of a limit (once per window), a key expiring within
      7 days, an Ollama server down and back, the database failing and back. JSON bodies carry
      <code>X-Llmproxy-Signature: sha256=…</code>, an HMAC of <code>&lt;X-Llmproxy-Timestamp&gt;.&lt;body&gt;</code> with the secret.
      Failed deliveries are retried 4 times with growing waits.
    </p>
    <app-viewer-notice />

    <form *appIfCanWrite class="edit" [formGroup]="form" #webhookForm="ngForm" (ngSubmit)="save(webhookForm)" data-testid="webhook-form">
      <h2>{{ editing() ? 'Edit ' + editing()!.name : 'New webhook' }}</h2>
      <div class="fields">
        <mat-form-field appearance="outline">
          <mat-label>Name</mat-label>
          <input matInput autocomplete="off" formControlName="name" data-testid="webhook-name" />
        </mat-form-field>
        <mat-form-field appearance="outline" class="wide">
          <mat-label>URL</mat-label>
          <input matInput type="url" autocomplete="off" spellcheck="false" formControlName="url" data-testid="webhook-url" />
          @if (form.controls.url.hasError('pattern')) {
            <mat-error>An http:// or https:// URL</mat-error>
          }
        </mat-form-field>
        <mat-form-field appearance="outline">
          <mat-label>Format</mat-label>
          <mat-select formControlName="format" data-testid="webhook-format">
            @for (format of formats; track format) {
              <mat-option [value]="format">{{ formatLabels[format] }}</mat-option>
            }
          </mat-select>
        </mat-form-field>
        <mat-form-field appearance="outline">
          <mat-label>Secret</mat-label>
          <input matInput type="password" autocomplete="new-password" formControlName="secret" data-testid="webhook-secret" />
          <mat-hint>{{ editing()?.has_secret ? 'Set: empty keeps it' : 'Optional, at least 8 characters' }}</mat-hint>
          @if (form.controls.secret.hasError('minlength')) {
            <mat-error>At least 8 characters</mat-error>
          }
        </mat-form-field>
      </div>
      <fieldset class="events">
        <legend>Events</legend>
        @for (event of events; track event) {
          <mat-checkbox [checked]="chosen().includes(event)" (change)="toggleEvent(event, $event.checked)" [attr.data-testid]="'webhook-event-' + event">{{ eventLabels[event] }}</mat-checkbox>
        }
      </fieldset>
      @if (editing()?.has_secret) {
        <mat-checkbox formControlName="removeSecret" data-testid="webhook-remove-secret">Remove the secret (bodies go unsigned)</mat-checkbox>
      }
      @if (formError(); as error) {
        <p class="error" role="alert" data-testid="webhook-form-error">{{ error }}</p>
      }
      <div class="buttons">
        <button mat-flat-button type="submit" [disabled]="form.invalid || chosen().length === 0 || busy()" data-testid="webhook-save">{{ editing() ? 'Save' : 'Add webhook' }}</button>
        @if (editing()) {
          <button mat-button type="button" (click)="cancelEdit(webhookForm)" data-testid="webhook-cancel">Cancel</button>
        }
      </div>
    </form>

    @if (loading()) {
      <mat-progress-bar mode="indeterminate" />
    }
    @if (loadError(); as error) {
      <p class="error" role="alert" data-testid="alerts-error">Could not load the alerts: {{ error }}</p>
    }
    <h2>Webhooks</h2>
    <ul class="webhooks" data-testid="webhooks-list">
      @for (webhook of webhooks(); track webhook.id) {
        <li class="webhook" [attr.data-testid]="'webhook-' + webhook.id">
          <div class="what">
            <strong>{{ webhook.name }}</strong>
            <span class="tag">{{ formatLabels[webhook.format] }}</span>
            @if (!webhook.enabled) {
              <span class="tag off" [attr.data-testid]="'webhook-disabled-' + webhook.id">disabled</span>
            }
            <span class="tag">{{ webhook.has_secret ? 'signed' : 'unsigned' }}</span>
            <span class="url">{{ webhook.url }}</span>
          </div>
          <div class="hint">{{ describeEvents(webhook.events) }}</div>
          <div *appIfCanWrite class="actions">
            <button mat-button type="button" [disabled]="busy()" (click)="test(webhook)" [attr.data-testid]="'webhook-test-' + webhook.id">Send test</button>
            <button mat-button type="button" [disabled]="busy()" (click)="edit(webhook)" [attr.data-testid]="'webhook-edit-' + webhook.id">Edit</button>
            <button mat-button type="button" [disabled]="busy()" (click)="setEnabled(webhook, !webhook.enabled)" [attr.data-testid]="'webhook-toggle-' + webhook.id">{{ webhook.enabled ? 'Disable' : 'Enable' }}</button>
            <button mat-button type="button" class="danger" [disabled]="busy()" (click)="remove(webhook)" [attr.data-testid]="'webhook-delete-' + webhook.id">Remove</button>
          </div>
          @if (rowErrors()[webhook.id]; as error) {
            <p class="error" role="alert" [attr.data-testid]="'webhook-error-' + webhook.id">{{ error }}</p>
          }
        </li>
      } @empty {
        @if (!loading()) {
          <li class="empty" data-testid="webhooks-empty">No webhooks yet: no alerts are sent.</li>
        }
      }
    </ul>
    @if (notice(); as notice) {
      <p class="notice" role="status" data-testid="alerts-notice">{{ notice }}</p>
    }

    <h2>Recent deliveries</h2>
    <ul class="deliveries" data-testid="deliveries-list">
      @for (delivery of deliveries(); track delivery.id) {
        <li class="delivery" [attr.data-testid]="'delivery-' + delivery.id">
          <div class="what">
            <span class="status" [class]="delivery.status" [attr.data-testid]="'delivery-status-' + delivery.id">{{ delivery.status }}</span>
            <strong>{{ eventLabel(delivery.event) }}</strong>
            <span>→ {{ delivery.webhook_name ?? 'webhook ' + delivery.webhook_id }}</span>
            <span class="hint">{{ delivery.created_at | date: 'yyyy-MM-dd HH:mm:ss' }}</span>
            <span class="hint" [attr.data-testid]="'delivery-attempts-' + delivery.id">{{ delivery.attempts }} attempt{{ delivery.attempts === 1 ? '' : 's' }}</span>
            @if (delivery.next_attempt_at) {
              <span class="hint">next {{ delivery.next_attempt_at | date: 'HH:mm:ss' }}</span>
            }
          </div>
          <div class="summary">{{ delivery.summary }}</div>
          @if (delivery.last_error) {
            <div class="error" [attr.data-testid]="'delivery-error-' + delivery.id">Last error: {{ delivery.last_error }}</div>
          }
        </li>
      } @empty {
        <li class="empty" data-testid="deliveries-empty">Nothing sent yet.</li>
      }
    </ul>
  `,
  styles: `
    .page-header { display: flex; align-items: center; gap: 8px; }
    .spacer { flex: 1; }
    .hint { color: var(--mat-sys-on-surface-variant); font-size: 13px; }
    .error { color: var(--mat-sys-error); overflow-wrap: anywhere; }
    code { overflow-wrap: anywhere; }
    h2 { font-size: 16px; margin: 16px 0 8px; }
    .edit { margin: 16px 0; max-width: 900px; }
    .fields { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-start; }
    .fields mat-form-field { flex: 1 1 200px; min-width: 0; }
    .fields mat-form-field.wide { flex: 2 1 320px; }
    .events { border: 1px solid var(--mat-sys-outline-variant); border-radius: 8px; margin: 8px 0; display: flex; flex-wrap: wrap; gap: 0 12px; }
    .buttons { display: flex; gap: 8px; margin-top: 8px; }
    .webhooks, .deliveries { list-style: none; padding: 0; margin: 0 0 16px; max-width: 900px; }
    .webhook, .delivery { border-bottom: 1px solid var(--mat-sys-outline-variant); padding: 8px 0; min-width: 0; }
    .what { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; overflow-wrap: anywhere; }
    .url { font-family: monospace; font-size: 12px; overflow-wrap: anywhere; min-width: 0; }
    .tag, .status { font-size: 12px; padding: 0 8px; border-radius: 8px; background: var(--mat-sys-surface-container-high); }
    .tag.off, .status.failed { background: var(--mat-sys-error-container); color: var(--mat-sys-on-error-container); }
    .status.delivered { background: var(--mat-sys-primary-container); color: var(--mat-sys-on-primary-container); }
    .summary { overflow-wrap: anywhere; }
    .actions { display: flex; flex-wrap: wrap; gap: 4px; }
    .danger { color: var(--mat-sys-error); }
    .empty { padding: 8px 0; color: var(--mat-sys-on-surface-variant); }
  `,
})
export class AlertsPage {
  private readonly api = inject(AlertsApi);
  private readonly dialog = inject(MatDialog);
  private readonly reloads = new Subject<void>();
  protected readonly events = EVENTS;
  protected readonly eventLabels = EVENT_LABELS;
  protected readonly formats = Object.keys(FORMAT_LABELS) as AlertFormat[];
  protected readonly formatLabels = FORMAT_LABELS;

  protected readonly webhooks = signal<AlertWebhookView[]>([]);
  protected readonly deliveries = signal<AlertDeliveryView[]>([]);
  protected readonly loading = signal(true);
  protected readonly loadError = signal<string | null>(null);
  protected readonly busy = signal(false);
  protected readonly formError = signal<string | null>(null);
  protected readonly rowErrors = signal<Record<number, string>>({});
  protected readonly notice = signal<string | null>(null);
  protected readonly editing = signal<AlertWebhookView | null>(null);
  protected readonly chosen = signal<AlertEvent[]>([...EVENTS]);

  protected readonly form = new FormGroup({
    name: new FormControl('', { nonNullable: true, validators: [Validators.required, Validators.maxLength(100)] }),
    url: new FormControl('', { nonNullable: true, validators: [Validators.required, Validators.pattern(/^https?:\/\/\S+$/i)] }),
    format: new FormControl<AlertFormat>('json', { nonNullable: true }),
    secret: new FormControl('', { nonNullable: true, validators: [Validators.minLength(8), Validators.maxLength(500)] }),
    removeSecret: new FormControl(false, { nonNullable: true }),
  });

  constructor() {
    newestAnswers(merge(timer(0, inject(ALERTS_REFRESH_MS)), this.reloads), () => forkJoin({ webhooks: this.api.webhooks(), deliveries: this.api.deliveries() }))
      .pipe(takeUntilDestroyed())
      .subscribe(({ value, error }) => {
        this.loading.set(false);
        this.loadError.set(error);
        if (value) {
          this.webhooks.set(value.webhooks);
          this.deliveries.set(value.deliveries);
        }
      });
  }

  protected reload(): void {
    this.reloads.next();
  }

  protected eventLabel(event: AlertEvent): string {
    return event === 'test' ? 'Test' : EVENT_LABELS[event];
  }

  protected describeEvents(events: AlertEvent[]): string {
    return events.length === EVENTS.length ? 'Every event' : events.map((e) => this.eventLabel(e)).join(', ');
  }

  protected toggleEvent(event: AlertEvent, on: boolean): void {
    this.chosen.update((events) => (on ? [...new Set([...events, event])] : events.filter((e) => e !== event)));
  }

  protected edit(webhook: AlertWebhookView): void {
    this.editing.set(webhook);
    this.formError.set(null);
    this.form.reset({ name: webhook.name, url: webhook.url, format: webhook.format, secret: '', removeSecret: false });
    this.chosen.set(webhook.events.filter((e) => e !== 'test'));
  }

  protected cancelEdit(directive?: FormGroupDirective): void {
    this.editing.set(null);
    this.formError.set(null);
    this.clearForm(directive);
  }

  /** `directive`: to clear the submitted state too, or the emptied fields would show as errors. */
  protected save(directive?: FormGroupDirective): void {
    if (this.form.invalid || this.chosen().length === 0 || this.busy()) return;
    const { name, url, format, secret, removeSecret } = this.form.getRawValue();
    const editing = this.editing();
    const events = EVENTS.filter((e) => this.chosen().includes(e));
    this.busy.set(true);
    this.formError.set(null);
    const request = editing
      ? this.api.update(editing.id, { name, url, format, events, ...secretChange(secret, removeSecret) })
      : this.api.create({ name, url, format, events, ...(secret ? { secret } : {}) });
    request.pipe(finalize(() => this.busy.set(false))).subscribe({
      next: (saved) => {
        this.webhooks.update((list) => (editing ? list.map((w) => (w.id === saved.id ? saved : w)) : [...list, saved]));
        this.notice.set(editing ? `Saved ${saved.name}.` : `Added ${saved.name}.`);
        this.editing.set(null);
        this.clearForm(directive);
      },
      error: (error: unknown) => this.formError.set(errorMessage(error)),
    });
  }

  protected test(webhook: AlertWebhookView): void {
    this.rowWrite(webhook, this.api.test(webhook.id), () => {
      this.notice.set(`Test alert queued for ${webhook.name}: see its delivery below.`);
      this.reload();
    });
  }

  protected setEnabled(webhook: AlertWebhookView, enabled: boolean): void {
    this.rowWrite(webhook, this.api.update(webhook.id, { enabled }), (saved) => {
      this.webhooks.update((list) => list.map((w) => (w.id === saved.id ? saved : w)));
      this.notice.set(`${webhook.name} ${enabled ? 'enabled' : 'disabled'}.`);
    });
  }

  protected remove(webhook: AlertWebhookView): void {
    confirm(this.dialog, { title: `Remove ${webhook.name}?`, message: 'No more alerts go to it, and its deliveries are removed with it.', confirm: 'Remove', danger: true })
      .pipe(filter((confirmed) => confirmed === true))
      .subscribe(() =>
        this.rowWrite(webhook, this.api.delete(webhook.id), () => {
          this.webhooks.update((list) => list.filter((w) => w.id !== webhook.id));
          this.deliveries.update((list) => list.filter((d) => d.webhook_id !== webhook.id));
          if (this.editing()?.id === webhook.id) this.cancelEdit();
          this.notice.set(`Removed ${webhook.name}.`);
        }),
      );
  }

  private rowWrite<T>(webhook: AlertWebhookView, request: Observable<T>, done: (result: T) => void): void {
    this.busy.set(true);
    this.setRowError(webhook.id, null);
    request.pipe(finalize(() => this.busy.set(false))).subscribe({ next: done, error: (error: unknown) => this.setRowError(webhook.id, errorMessage(error)) });
  }

  private clearForm(directive?: FormGroupDirective): void {
    const empty = { name: '', url: '', format: 'json' as const, secret: '', removeSecret: false };
    if (directive) directive.resetForm(empty);
    else this.form.reset(empty);
    this.chosen.set([...EVENTS]);
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

/** An edit's secret: a new one when typed, null when removed, else absent (kept). */
function secretChange(secret: string, remove: boolean): Pick<UpdateAlertWebhookRequest, 'secret'> {
  if (remove) return { secret: null };
  return secret ? { secret } : {};
}
