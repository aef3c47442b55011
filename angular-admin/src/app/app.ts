import { ChangeDetectionStrategy, Component, computed, inject } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { MatButtonModule } from '@angular/material/button';
import { MatToolbarModule } from '@angular/material/toolbar';
import { NavigationEnd, Router, RouterLink, RouterLinkActive, RouterOutlet } from '@angular/router';
import { filter, finalize, map } from 'rxjs';
import { AuthApi } from './api/auth-api.service';
import { SessionService } from './core/session.service';

@Component({
  selector: 'app-root',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [RouterOutlet, RouterLink, RouterLinkActive, MatToolbarModule, MatButtonModule],
  template: `
    <mat-toolbar class="app-toolbar">
      <span class="brand">llmproxy admin</span>
      @if (showNav()) {
        <nav aria-label="Pages">
          <a mat-button routerLink="/overview" routerLinkActive="active" data-testid="nav-overview">Overview</a>
          <a mat-button routerLink="/keys" routerLinkActive="active" data-testid="nav-keys">Keys</a>
          <a mat-button routerLink="/usage" routerLinkActive="active" data-testid="nav-usage">Usage</a>
          <a mat-button routerLink="/upstreams" routerLinkActive="active" data-testid="nav-upstreams">Upstreams</a>
          <a mat-button routerLink="/settings" routerLinkActive="active" data-testid="nav-settings">Settings</a>
          <a mat-button routerLink="/alerts" routerLinkActive="active" data-testid="nav-alerts">Alerts</a>
          <a mat-button routerLink="/audit" routerLinkActive="active" data-testid="nav-audit">Audit log</a>
          @if (session.isAdmin()) {
            <a mat-button routerLink="/accounts" routerLinkActive="active" data-testid="nav-accounts">Accounts</a>
          }
        </nav>
        <span class="spacer"></span>
        @if (session.username(); as username) {
          <a class="who" routerLink="/password" title="Change your password" data-testid="signed-in-as">{{ username }} · {{ session.role() }}</a>
        }
        <button mat-stroked-button type="button" (click)="logout()" data-testid="logout">Log out</button>
      }
    </mat-toolbar>
    <main class="app-main">
      <router-outlet />
    </main>
  `,
  styles: `
    .app-toolbar { gap: 8px; }
    .brand { font-weight: 600; margin-right: 16px; }
    nav { display: flex; gap: 4px; min-width: 0; overflow-x: auto; }
    nav a.active { background: var(--mat-sys-secondary-container); }
    .spacer { flex: 1; }
    .who { font-size: 13px; color: var(--mat-sys-on-surface-variant); white-space: nowrap; text-decoration: none; }
    .who:hover { text-decoration: underline; }
    .app-main { padding: 16px 24px; max-width: 1600px; margin: 0 auto; }
    /* A phone: the links get a row of their own below the brand and Log out (scrolling inside it if
       they still do not fit), so the page itself never scrolls sideways. */
    @media (max-width: 720px) {
      .app-toolbar { height: auto; flex-wrap: wrap; row-gap: 0; padding: 4px 8px; }
      .brand { margin-right: 0; }
      nav { order: 3; flex-basis: 100%; gap: 0; --mat-button-text-horizontal-padding: 8px; }
      .app-main { padding: 12px; }
    }
  `,
})
export class App {
  private readonly router = inject(Router);
  protected readonly session = inject(SessionService);
  private readonly authApi = inject(AuthApi);

  constructor() {
    // The role may have changed since the login (or the stored session predates named admins).
    if (this.session.isLoggedIn()) this.authApi.me().subscribe({ next: (me) => this.session.setAccount(me), error: () => undefined });
  }

  private readonly url = toSignal(
    this.router.events.pipe(
      filter((event) => event instanceof NavigationEnd),
      map((event) => event.urlAfterRedirects),
    ),
    { initialValue: this.router.url },
  );

  protected readonly showNav = computed(() => !this.url().startsWith('/login') && this.session.token() !== null);

  protected logout(): void {
    // The server forgets the token too; the UI forgets it whatever the answer.
    this.authApi
      .logout()
      .pipe(finalize(() => this.session.end()))
      .subscribe({ error: () => undefined });
  }
}
