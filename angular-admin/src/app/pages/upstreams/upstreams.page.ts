import { DatePipe, DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, InjectionToken, computed, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MatButtonModule } from '@angular/material/button';
import { IfCanWriteDirective } from '../../shared/if-can-write.directive';
import { ViewerNoticeComponent } from '../../shared/viewer-notice.component';
import { MatDialog } from '@angular/material/dialog';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSnackBar } from '@angular/material/snack-bar';
import { Subject, filter, finalize, merge, switchMap, timer, type Observable } from 'rxjs';
import type { BreakerState, UpstreamView } from '../../api/admin-api.types';
import { UpstreamsApi } from '../../api/upstreams-api.service';
import { confirm } from '../../shared/confirm.dialog';
import { newestAnswers } from '../../shared/newest-answers';
import { UpstreamFormDialog, type UpstreamFormData } from './upstream-form.dialog';

/** How often the open page asks again: slots, queues and health change by the second. */
export const UPSTREAMS_REFRESH_MS = new InjectionToken<number>('UPSTREAMS_REFRESH_MS', { factory: () => 5_000 });

/** An upstream as the page shows it: its models with the loaded ones marked, its reserved slots when the server reports them. */
export interface UpstreamCard {
  upstream: UpstreamView;
  models: { name: string; loaded: boolean }[];
  /** null: the gateway does not report reserved slots. */
  reserved: number | null;
  breaker: string;
}

const BREAKER_LABELS: Record<BreakerState, string> = { closed: 'closed', open: 'open', half_open: 'half open' };

export function upstreamCard(upstream: UpstreamView): UpstreamCard {
  const loaded = new Set(upstream.status.loaded);
  // A loaded model the last catalogue did not list is still shown: it holds memory on that server.
  const names = [...new Set([...upstream.status.models, ...upstream.status.loaded])].sort();
  return {
    upstream,
    models: names.map((name) => ({ name, loaded: loaded.has(name) })),
    reserved: typeof upstream.reserved_slots === 'number' ? upstream.reserved_slots : null,
    breaker: BREAKER_LABELS[upstream.status.breaker] ?? upstream.status.breaker,
  };
}

@Component({
  selector: 'app-upstreams-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [MatButtonModule, MatProgressBarModule, DatePipe, DecimalPipe, IfCanWriteDirective, ViewerNoticeComponent],
  templateUrl: './upstreams.page.html',
  styleUrl: './upstreams.page.scss',
})
export class UpstreamsPage {
  private readonly upstreamsApi = inject(UpstreamsApi);
  private readonly dialog = inject(MatDialog);
  private readonly snackBar = inject(MatSnackBar);
  protected readonly refreshSeconds = Math.round(inject(UPSTREAMS_REFRESH_MS) / 1000);
  private readonly reloads = new Subject<void>();

  protected readonly upstreams = signal<UpstreamView[] | null>(null);
  protected readonly cards = computed(() => this.upstreams()?.map(upstreamCard) ?? null);
  protected readonly loading = signal(true);
  protected readonly loadError = signal<string | null>(null);
  protected readonly acting = signal(false);

  constructor() {
    const every = inject(UPSTREAMS_REFRESH_MS);
    newestAnswers(merge(timer(0, every), this.reloads), () => this.upstreamsApi.list())
      .pipe(takeUntilDestroyed())
      .subscribe(({ value: list, error }) => {
        this.loading.set(false);
        this.loadError.set(error);
        // A failed refresh keeps the last list on screen, under the error.
        if (list) this.upstreams.set(list);
      });
  }

  protected reload(): void {
    this.reloads.next();
  }

  protected create(): void {
    this.openForm({ mode: 'create' }).subscribe((created) => {
      this.snackBar.open(`Added ${created.name}.`, undefined, { duration: 3000 });
      this.reload();
    });
  }

  protected edit(upstream: UpstreamView): void {
    this.openForm({ mode: 'edit', upstream }).subscribe((updated) => {
      this.snackBar.open(`Saved ${updated.name}.`, undefined, { duration: 3000 });
      this.reload();
    });
  }

  protected setEnabled(upstream: UpstreamView, enabled: boolean): void {
    this.act(this.upstreamsApi.setEnabled(upstream.id, enabled)).subscribe({
      next: () => this.snackBar.open(`${upstream.name} ${enabled ? 'enabled' : 'disabled'}.`, undefined, { duration: 3000 }),
      error: shownBySnackbar,
    });
  }

  protected remove(upstream: UpstreamView): void {
    confirm(this.dialog, {
      title: `Remove ${upstream.name}?`,
      message: 'No new requests go to this server; requests already running there finish. To pause it instead, disable it.',
      confirm: 'Remove',
      danger: true,
    })
      .pipe(
        filter(Boolean),
        switchMap(() => this.act(this.upstreamsApi.delete(upstream.id))),
      )
      .subscribe({ next: () => this.snackBar.open(`Removed ${upstream.name}.`, undefined, { duration: 3000 }), error: shownBySnackbar });
  }

  private openForm(data: UpstreamFormData): Observable<UpstreamView> {
    return this.dialog
      .open<UpstreamFormDialog, UpstreamFormData, UpstreamView>(UpstreamFormDialog, { data, width: '640px', maxWidth: '95vw' })
      .afterClosed()
      // Cancel (`mat-dialog-close` without a value) closes with '', Escape with undefined: neither saved anything.
      .pipe(filter((result): result is UpstreamView => typeof result === 'object' && result !== null));
  }

  /** A card action: the buttons wait, the list reloads afterwards; failures reach the snackbar through the interceptor. */
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

/** The interceptor has already put the API's message in a snackbar; the subscriber only keeps it from surfacing twice. */
function shownBySnackbar(): void {}
