import { DatePipe, DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, computed, input, output } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatMenuModule } from '@angular/material/menu';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTableModule } from '@angular/material/table';
import { MatTooltipModule } from '@angular/material/tooltip';
import { IfCanWriteDirective } from '../../shared/if-can-write.directive';
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
  imports: [IfCanWriteDirective, MatTableModule, MatButtonModule, MatMenuModule, MatProgressBarModule, MatTooltipModule, DatePipe, DecimalPipe],
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

  /** What matters at a glance; the key's limits settings are in Edit and Quota, the rarer actions in the row's menu. */
  protected readonly columns = ['name', 'status', 'today', 'month', 'actions'] as const;
  protected readonly windows: readonly { column: 'today' | 'month'; label: string; bars: readonly QuotaId[] }[] = [
    { column: 'today', label: 'Today', bars: ['daily-requests', 'daily-tokens'] },
    { column: 'month', label: 'This month', bars: ['monthly-requests', 'monthly-tokens'] },
  ];

  protected readonly rows = computed<KeyRow[]>(() => {
    const now = this.now();
    return this.keys().map((key) => ({ key, status: keyStatus(key, now), bars: quotaBars(key) }));
  });

  protected barOf(row: KeyRow, id: QuotaId): QuotaBar {
    return row.bars.find((bar) => bar.id === id)!;
  }
}
