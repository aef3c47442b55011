import { DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, DestroyRef, computed, inject, signal } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatButtonToggleModule } from '@angular/material/button-toggle';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSelectModule } from '@angular/material/select';
import { MatTableModule } from '@angular/material/table';
import { BarController, BarElement, CategoryScale, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip, type ChartOptions } from 'chart.js';
import { BaseChartDirective, provideCharts } from 'ng2-charts';
import { finalize, type Subscription } from 'rxjs';
import type { ApiKeyWithUsage, UsageQuery, UsageResponse } from '../../api/admin-api.types';
import { KeysApi } from '../../api/keys-api.service';
import { UsageApi } from '../../api/usage-api.service';
import { errorMessage } from '../../core/api-error';
import { breakdown, chartData, type SplitBy } from './usage-chart';

const DAYS = 30;

@Component({
  selector: 'app-usage-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [BaseChartDirective, DecimalPipe, MatButtonModule, MatButtonToggleModule, MatFormFieldModule, MatSelectModule, MatProgressBarModule, MatTableModule],
  // Only what this chart draws, not all of Chart.js.
  providers: [provideCharts({ registerables: [BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend] })],
  templateUrl: './usage.page.html',
  styleUrl: './usage.page.scss',
})
export class UsagePage {
  private readonly usageApi = inject(UsageApi);
  private readonly keysApi = inject(KeysApi);
  private loading$: Subscription | undefined;

  protected readonly days = DAYS;
  protected readonly keyId = signal<number | null>(null);
  protected readonly model = signal<string | null>(null);
  protected readonly split = signal<SplitBy>('model');

  protected readonly usage = signal<UsageResponse | null>(null);
  protected readonly loading = signal(false);
  protected readonly exporting = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly keys = signal<ApiKeyWithUsage[]>([]);
  /** Every model seen in this range, so filtering by one does not hide the others from the selector. */
  protected readonly models = signal<string[]>([]);

  protected readonly chart = computed(() => {
    const usage = this.usage();
    return usage ? chartData(usage, this.split()) : null;
  });
  protected readonly rows = computed(() => breakdown(this.usage()?.series ?? []));
  protected readonly breakdownColumns = ['key', 'model', 'requests', 'prompt_tokens', 'completion_tokens', 'tokens', 'failed_requests'];
  /** The range per upstream (Ollama server); `upstream: null` = served by none. */
  protected readonly upstreams = computed(() => this.usage()?.upstreams ?? []);
  protected readonly upstreamColumns = ['upstream', 'requests', 'prompt_tokens', 'completion_tokens', 'failed_requests'];

  protected readonly chartOptions: ChartOptions<'bar' | 'line'> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: 'index', intersect: false },
    scales: {
      x: { stacked: true },
      tokens: { type: 'linear', position: 'left', stacked: true, beginAtZero: true, title: { display: true, text: 'tokens' } },
      requests: { type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'requests' } },
    },
    plugins: { legend: { position: 'bottom' } },
  };

  constructor() {
    this.keysApi.list().subscribe({ next: (keys) => this.keys.set(keys), error: () => undefined /* shown by the interceptor */ });
    this.load();
    inject(DestroyRef).onDestroy(() => this.loading$?.unsubscribe());
  }

  protected selectKey(keyId: number | null): void {
    this.keyId.set(keyId);
    this.load();
  }

  protected selectModel(model: string | null): void {
    this.model.set(model);
    this.load();
  }

  protected load(): void {
    this.loading$?.unsubscribe();
    this.loading.set(true);
    this.error.set(null);
    this.loading$ = this.usageApi
      .get(this.query())
      .pipe(finalize(() => this.loading.set(false)))
      .subscribe({
        next: (usage) => {
          this.usage.set(usage);
          this.models.update((models) => [...new Set([...models, ...usage.series.map((row) => row.model)])].sort());
        },
        error: (error: unknown) => this.error.set(errorMessage(error)),
      });
  }

  protected exportCsv(): void {
    this.exporting.set(true);
    this.usageApi
      .csv(this.query(this.usage() ?? undefined))
      .pipe(finalize(() => this.exporting.set(false)))
      .subscribe({ next: ({ blob, filename }) => saveFile(blob, filename), error: () => undefined /* shown by the interceptor */ });
  }

  private query(days?: { from: string; to: string }): UsageQuery {
    // No days: the server takes its last 30 up to its own today (APP_TZ), which the browser's calendar
    // may be a day behind or ahead of around midnight. The export takes exactly the days on screen.
    return { from: days?.from, to: days?.to, granularity: 'day', key_id: this.keyId(), model: this.model() };
  }
}

function saveFile(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
