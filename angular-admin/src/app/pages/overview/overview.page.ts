import { DatePipe, DecimalPipe, PercentPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, InjectionToken, computed, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { RouterLink } from '@angular/router';
import type { Overview } from '../../api/admin-api.types';
import { OverviewApi } from '../../api/overview-api.service';
import { interval, startWith } from 'rxjs';
import { newestAnswers } from '../../shared/newest-answers';

/** How often the page asks again while it is open. */
export const OVERVIEW_REFRESH_MS = new InjectionToken<number>('OVERVIEW_REFRESH_MS', { factory: () => 10_000 });

const REFUSAL_LABELS: Record<keyof Overview['refusals_last_hour'], string> = {
  unauthorized: 'Unknown, inactive or expired key (401)',
  forbidden: 'Model not allowed (403)',
  not_found: 'Unknown model (404)',
  bad_request: 'Bad request (4xx)',
  quota_requests: 'Request quota used up (429)',
  quota_tokens: 'Token quota used up (429)',
  quota_concurrency: 'Too many at once (429)',
  overloaded: 'Servers busy, queue full or too long (503/529)',
  upstream: 'Ollama failed (5xx)',
};

/** The first page after login: today, the last hour, the servers, and the keys nearest a limit. */
@Component({
  selector: 'app-overview-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [DatePipe, DecimalPipe, PercentPipe, MatProgressBarModule, RouterLink],
  template: `
    <header class="page-header"><h1>Overview</h1></header>
    @if (error(); as error) {
      <p class="error" role="alert" data-testid="overview-error">Could not load the overview: {{ error }}</p>
    }
    @if (overview(); as o) {
      <section class="tiles" aria-label="Today">
        <div class="tile" data-testid="overview-requests-today">
          <span class="label">Requests today</span><span class="value">{{ o.totals_today.requests | number }}</span>
        </div>
        <div class="tile" data-testid="overview-tokens-today">
          <span class="label">Tokens today</span><span class="value">{{ o.totals_today.prompt_tokens + o.totals_today.completion_tokens | number }}</span>
          <span class="hint">{{ o.totals_today.prompt_tokens | number }} in, {{ o.totals_today.completion_tokens | number }} out</span>
        </div>
        <div class="tile" data-testid="overview-streams">
          <span class="label">Streams in flight</span><span class="value">{{ o.streams_in_flight | number }}</span>
        </div>
      </section>

      <section class="panel" aria-labelledby="rpm-title">
        <h2 id="rpm-title">Requests per minute, last hour</h2>
        <svg class="bars" viewBox="0 0 600 80" preserveAspectRatio="none" role="img" [attr.aria-label]="rpmLabel()" data-testid="overview-rpm">
          @for (bar of bars(); track bar.x) {
            <rect [attr.x]="bar.x" [attr.y]="80 - bar.height" width="8" [attr.height]="bar.height"><title>{{ bar.title }}</title></rect>
          }
        </svg>
        <p class="hint">Peak {{ peak() | number }} a minute; this gateway process only.</p>
      </section>

      <div class="columns">
        <section class="panel" aria-labelledby="refusals-title">
          <h2 id="refusals-title">Refused or failed, last hour</h2>
          @if (refusals().length === 0) {
            <p class="hint" data-testid="overview-no-refusals">None.</p>
          } @else {
            <ul class="plain" data-testid="overview-refusals">
              @for (r of refusals(); track r.kind) {
                <li [attr.data-testid]="'overview-refusal-' + r.kind"><span>{{ r.label }}</span><strong>{{ r.count | number }}</strong></li>
              }
            </ul>
          }
        </section>

        <section class="panel" aria-labelledby="servers-title">
          <h2 id="servers-title">Ollama servers</h2>
          <ul class="plain">
            @for (u of o.upstreams; track u.id) {
              <li class="server" [attr.data-testid]="'overview-upstream-' + u.name">
                <span class="name">{{ u.name }}</span>
                <span class="chip" [class]="'chip ' + u.health">{{ u.health }}</span>
                <span class="hint">{{ u.in_flight }}/{{ u.max_parallel }} busy{{ u.queued ? ', ' + u.queued + ' waiting' : '' }}</span>
                <span class="models">{{ u.loaded.length ? 'loaded: ' + u.loaded.join(', ') : 'no model loaded' }}</span>
              </li>
            }
          </ul>
          <a routerLink="/upstreams" class="more">All servers</a>
        </section>
      </div>

      <section class="panel" aria-labelledby="near-title">
        <h2 id="near-title">Keys nearest a limit</h2>
        @if (o.keys_near_limits.length === 0) {
          <p class="hint" data-testid="overview-no-near">No key with a limit has used any of it yet.</p>
        } @else {
          <ul class="plain">
            @for (k of o.keys_near_limits; track k.id) {
              <li class="near" [attr.data-testid]="'overview-near-' + k.name">
                <div class="near-head">
                  <strong>{{ k.name }}</strong>
                  <span>{{ k.share | percent: '1.0-0' }} of its {{ k.window === 'day' ? 'daily' : 'monthly' }} {{ k.kind }} ({{ k.used | number }} of {{ k.limit | number }})</span>
                </div>
                <mat-progress-bar mode="determinate" [value]="k.share * 100" [attr.aria-label]="k.name + ' ' + (k.share | percent: '1.0-0')" />
                <span class="hint">resets {{ k.resets_at | date: 'MMM d, HH:mm' }}</span>
              </li>
            }
          </ul>
        }
      </section>
    } @else if (!error()) {
      <mat-progress-bar mode="indeterminate" />
    }
  `,
  styles: `
    :host { display: block; }
    h2 { font-size: 16px; margin: 0 0 8px; }
    .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin-bottom: 16px; }
    .tile, .panel { border: 1px solid var(--mat-sys-outline-variant); border-radius: 12px; padding: 12px 16px; min-width: 0; }
    .panel { margin-bottom: 16px; }
    .tile { display: flex; flex-direction: column; gap: 2px; }
    .label { color: var(--mat-sys-on-surface-variant); font-size: 13px; }
    .value { font-size: 28px; font-weight: 500; }
    .hint { color: var(--mat-sys-on-surface-variant); font-size: 12px; }
    .bars { width: 100%; height: 80px; display: block; }
    .bars rect { fill: var(--mat-sys-primary); }
    .columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 16px; }
    .columns .panel { margin-bottom: 0; }
    .columns { margin-bottom: 16px; }
    .plain { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
    .plain li { display: flex; justify-content: space-between; gap: 8px; flex-wrap: wrap; overflow-wrap: anywhere; }
    .server { align-items: baseline; }
    .server .name { font-weight: 500; }
    .server .models { flex-basis: 100%; font-size: 13px; }
    .chip { border-radius: 8px; padding: 0 8px; font-size: 12px; background: var(--mat-sys-surface-variant); }
    .chip.up { background: #d7f5dd; color: #0b5a1e; }
    .chip.down { background: var(--mat-sys-error-container); color: var(--mat-sys-on-error-container); }
    .near { flex-direction: column; }
    .near-head { display: flex; justify-content: space-between; gap: 8px; flex-wrap: wrap; }
    .more { display: inline-block; margin-top: 8px; }
    .error { color: var(--mat-sys-error); }
  `,
})
export class OverviewPage {
  private readonly api = inject(OverviewApi);
  protected readonly overview = signal<Overview | null>(null);
  protected readonly error = signal<string | null>(null);

  protected readonly peak = computed(() => Math.max(0, ...(this.overview()?.requests_per_minute.map((m) => m.requests) ?? [])));
  protected readonly bars = computed(() => {
    const minutes = this.overview()?.requests_per_minute ?? [];
    const peak = Math.max(1, this.peak());
    // Clamped to the plot: a bar never reaches past the top, an empty minute is a hairline.
    return minutes.map((m, i) => ({ x: i * 10, height: m.requests === 0 ? 1 : Math.max(2, Math.round((m.requests / peak) * 78)), title: `${m.minute.slice(11, 16)} UTC: ${m.requests}` }));
  });
  protected readonly rpmLabel = computed(() => {
    const minutes = this.overview()?.requests_per_minute ?? [];
    return `${minutes.reduce((sum, m) => sum + m.requests, 0)} requests in the last hour, at most ${this.peak()} in a minute`;
  });
  protected readonly refusals = computed(() => {
    const refusals = this.overview()?.refusals_last_hour;
    if (!refusals) return [];
    return (Object.keys(REFUSAL_LABELS) as (keyof typeof REFUSAL_LABELS)[])
      .filter((kind) => refusals[kind] > 0)
      .map((kind) => ({ kind, label: REFUSAL_LABELS[kind], count: refusals[kind] }));
  });

  constructor() {
    newestAnswers(interval(inject(OVERVIEW_REFRESH_MS)).pipe(startWith(0)), () => this.api.get())
      .pipe(takeUntilDestroyed())
      .subscribe(({ value, error }) => {
        // A failed refresh keeps the last figures on screen and says why they are not fresh.
        this.error.set(error);
        if (value) this.overview.set(value);
      });
  }
}
