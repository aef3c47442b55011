import { DatePipe, DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, computed, input, output } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTableModule } from '@angular/material/table';
import { IfCanWriteDirective } from '../../shared/if-can-write.directive';
import { MatTooltipModule } from '@angular/material/tooltip';
import type { ApiKeyWithUsage } from '../../api/admin-api.types';
import { type KeyStatus, type QuotaBar, type QuotaId, keyStatus, quotaBars } from './key-status';

export interface KeyRow {
  key: ApiKeyWithUsage;
  status: KeyStatus;
  bars: QuotaBar[];
}

@Component({
  selector: 'app-key-table',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [IfCanWriteDirective, MatTableModule, MatButtonModule, MatProgressBarModule, MatTooltipModule, DatePipe, DecimalPipe],
  templateUrl: './key-table.component.html',
  styleUrl: './key-table.component.scss',
})
export class KeyTableComponent {
  readonly keys = input.required<ApiKeyWithUsage[]>();
  /** The moment statuses are judged at (a key past its expiry is expired). */
  readonly now = input<Date>(new Date());
  /** Disables the row actions while one is under way. */
  readonly busy = input(false);

  readonly edit = output<ApiKeyWithUsage>();
  readonly quota = output<ApiKeyWithUsage>();
  readonly rotate = output<ApiKeyWithUsage>();
  readonly setActive = output<{ key: ApiKeyWithUsage; active: boolean }>();
  readonly remove = output<ApiKeyWithUsage>();

  protected readonly columns = ['name', 'prefix', 'status', 'expires', 'daily-requests', 'daily-tokens', 'monthly-requests', 'monthly-tokens', 'actions'] as const;
  protected readonly quotaColumns: readonly { id: QuotaId; label: string }[] = [
    { id: 'daily-requests', label: 'Requests today' },
    { id: 'daily-tokens', label: 'Tokens today' },
    { id: 'monthly-requests', label: 'Requests this month' },
    { id: 'monthly-tokens', label: 'Tokens this month' },
  ];

  protected readonly rows = computed<KeyRow[]>(() => {
    const now = this.now();
    return this.keys().map((key) => ({ key, status: keyStatus(key, now), bars: quotaBars(key) }));
  });

  protected barOf(row: KeyRow, id: QuotaId): QuotaBar {
    return row.bars.find((bar) => bar.id === id)!;
  }
}
