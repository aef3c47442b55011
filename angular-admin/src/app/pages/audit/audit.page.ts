import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { MatButtonModule } from '@angular/material/button';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatTableModule } from '@angular/material/table';
import { finalize } from 'rxjs';
import type { AuditEntry } from '../../api/admin-api.types';
import { AuditApi } from '../../api/audit-api.service';
import { errorMessage } from '../../core/api-error';

const PAGE_SIZE = 50;

@Component({
  selector: 'app-audit-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [MatTableModule, MatButtonModule, MatProgressBarModule, DatePipe],
  template: `
    <header class="page-header">
      <h1>Audit log</h1>
      <span class="spacer"></span>
      <button mat-stroked-button type="button" (click)="reload()" [disabled]="loading()" data-testid="audit-refresh">Refresh</button>
    </header>
    @if (error(); as error) {
      <p class="error" role="alert" data-testid="audit-error">Could not load the audit log: {{ error }}</p>
    }
    <table mat-table [dataSource]="entries()" class="audit-table" data-testid="audit-table">
      <ng-container matColumnDef="at">
        <th mat-header-cell *matHeaderCellDef>When</th>
        <td mat-cell *matCellDef="let entry" class="at" [title]="entry.at">{{ entry.at | date: 'yyyy-MM-dd HH:mm:ss' }}</td>
      </ng-container>
      <ng-container matColumnDef="action">
        <th mat-header-cell *matHeaderCellDef>Action</th>
        <td mat-cell *matCellDef="let entry" class="action">
          <code>{{ entry.action }}</code>
          @if (entry.actor) {
            <span class="hint" data-testid="audit-actor">by {{ entry.actor }}</span>
          }
        </td>
      </ng-container>
      <ng-container matColumnDef="target">
        <th mat-header-cell *matHeaderCellDef>Target</th>
        <td mat-cell *matCellDef="let entry" class="target">
          {{ entry.target_type }}
          @if (entry.target_name) {
            <strong>{{ entry.target_name }}</strong>
          }
          @if (entry.target_id !== null) {
            <span class="hint">#{{ entry.target_id }}</span>
          }
        </td>
      </ng-container>
      <ng-container matColumnDef="changes">
        <th mat-header-cell *matHeaderCellDef>Changes</th>
        <td mat-cell *matCellDef="let entry" class="changes-cell"><pre class="changes">{{ describe(entry.changes) }}</pre></td>
      </ng-container>
      <tr mat-header-row *matHeaderRowDef="columns"></tr>
      <tr mat-row *matRowDef="let entry; columns: columns" [attr.data-testid]="'audit-row-' + entry.id"></tr>
      <tr class="mat-mdc-row" *matNoDataRow>
        <td class="mat-mdc-cell empty" [attr.colspan]="columns.length" data-testid="audit-empty">{{ loading() ? 'Loading…' : 'Nothing recorded yet.' }}</td>
      </tr>
    </table>
    @if (loading()) {
      <mat-progress-bar mode="indeterminate" />
    }
    @if (hasMore()) {
      <div class="more">
        <button mat-stroked-button type="button" (click)="loadMore()" [disabled]="loading()" data-testid="audit-load-more">Load more</button>
      </div>
    }
  `,
  styles: `
    .page-header { display: flex; align-items: center; gap: 8px; }
    .spacer { flex: 1; }
    .hint { color: var(--mat-sys-on-surface-variant); font-size: 12px; }
    .changes { margin: 0; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .changes-cell { min-width: 16em; }
    /* A phone: each entry a block of its own, the changes below the rest at the full width (a column of
       their own was one character wide). */
    @media (max-width: 720px) {
      .audit-table, .audit-table ::ng-deep tbody { display: block; }
      .audit-table tr.mat-mdc-header-row { display: none; }
      .audit-table tr.mat-mdc-row {
        display: grid;
        grid-template-columns: auto minmax(0, 1fr);
        grid-template-areas: 'at action' 'target target' 'changes changes';
        column-gap: 12px;
        height: auto;
        padding: 8px 0;
        border-bottom: 1px solid var(--mat-sys-outline-variant);
      }
      .audit-table td.mat-mdc-cell { display: block; border: none; padding: 0; min-width: 0; }
      .at { grid-area: at; }
      .action { grid-area: action; }
      .target { grid-area: target; padding-top: 4px !important; }
      .changes-cell { grid-area: changes; padding-top: 4px !important; }
      .empty { display: block; }
    }
    .empty { padding: 16px; }
    .more { padding: 16px 0; text-align: center; }
    .error { color: var(--mat-sys-error); }
  `,
})
export class AuditPage {
  private readonly auditApi = inject(AuditApi);

  protected readonly columns = ['at', 'action', 'target', 'changes'];
  protected readonly entries = signal<AuditEntry[]>([]);
  protected readonly loading = signal(false);
  protected readonly hasMore = signal(false);
  protected readonly error = signal<string | null>(null);

  constructor() {
    this.reload();
  }

  protected reload(): void {
    this.entries.set([]);
    this.fetch(undefined);
  }

  protected loadMore(): void {
    const oldest = this.entries().at(-1);
    if (oldest) this.fetch(oldest.id);
  }

  /** `{"daily_token_limit": {"old": 1000, "new": 2000}}` → `daily_token_limit: 1000 → 2000`. */
  protected describe(changes: Record<string, unknown> | null): string {
    if (!changes || Object.keys(changes).length === 0) return '';
    return Object.entries(changes)
      .map(([field, change]) => {
        if (typeof change === 'object' && change !== null && ('old' in change || 'new' in change)) {
          const { old: before, new: after } = change as { old?: unknown; new?: unknown };
          return `${field}: ${show(before)} → ${show(after)}`;
        }
        return `${field}: ${show(change)}`;
      })
      .join('\n');
  }

  private fetch(beforeId: number | undefined): void {
    this.loading.set(true);
    this.error.set(null);
    this.auditApi
      .list(PAGE_SIZE, beforeId)
      .pipe(finalize(() => this.loading.set(false)))
      .subscribe({
        next: (page) => {
          this.entries.update((entries) => [...entries, ...page]);
          this.hasMore.set(page.length === PAGE_SIZE);
        },
        error: (error: unknown) => this.error.set(errorMessage(error)),
      });
  }
}

function show(value: unknown): string {
  if (value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
