import { DestroyRef, Injectable, computed, inject, signal } from '@angular/core';
import { Router } from '@angular/router';
import type { AdminRole } from '../api/admin-api.types';

interface StoredSession {
  token: string;
  expires_at: string;
  /** Who the token belongs to; absent in sessions stored before named admins (then read from GET /api/me). */
  username?: string;
  role?: AdminRole;
}

export const SESSION_STORAGE_KEY = 'llmproxy.admin.session';

/** The longest delay setTimeout honours; a later expiry is checked again when that fires. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The admin session token, kept in localStorage so a reload keeps the operator logged in. Ending a
 * session (logout, a 401, the token's expiry) clears it and leaves a notice for the login page.
 */
@Injectable({ providedIn: 'root' })
export class SessionService {
  private readonly router = inject(Router);
  private readonly session = signal<StoredSession | null>(readStored());
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;

  /** Why the last session ended, shown once on the login page. */
  readonly notice = signal<string | null>(null);
  readonly token = computed(() => this.session()?.token ?? null);
  readonly expiresAt = computed(() => this.session()?.expires_at ?? null);
  readonly username = computed(() => this.session()?.username ?? null);
  readonly role = computed(() => this.session()?.role ?? null);
  /**
   * Whether to offer changes (buttons, forms). Only a known viewer is refused: the server decides
   * anyway (403), the UI only spares a viewer buttons that cannot work.
   */
  readonly canWrite = computed(() => this.role() !== 'viewer');
  readonly isAdmin = computed(() => this.role() === 'admin');

  constructor() {
    this.scheduleExpiry();
    inject(DestroyRef).onDestroy(() => clearTimeout(this.expiryTimer));
  }

  /** True while a token is held and its expiry is still ahead. */
  isLoggedIn(now = Date.now()): boolean {
    const session = this.session();
    return session !== null && Date.parse(session.expires_at) > now;
  }

  start(token: string, expiresAt: string, account?: { username: string; role: AdminRole }): void {
    const session: StoredSession = { token, expires_at: expiresAt, ...(account ? { username: account.username, role: account.role } : {}) };
    this.store(session);
    this.notice.set(null);
    this.scheduleExpiry();
  }

  /** Who the current token belongs to, as GET /api/me says (a role changed since the login shows at the next load). */
  setAccount(account: { username: string; role: AdminRole }): void {
    const session = this.session();
    if (session === null) return;
    this.store({ ...session, username: account.username, role: account.role });
  }

  /** Forgets the token; with a notice, sends the operator to the login page to read it. */
  end(notice: string | null = null): void {
    clearTimeout(this.expiryTimer);
    localStorage.removeItem(SESSION_STORAGE_KEY);
    this.session.set(null);
    this.notice.set(notice);
    const here = this.router.url;
    if (!here.startsWith('/login')) {
      void this.router.navigate(['/login'], { queryParams: notice && here !== '/' ? { returnUrl: here } : {} });
    }
  }

  private store(session: StoredSession): void {
    localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify(session));
    this.session.set(session);
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    const expiresAt = this.expiresAt();
    if (expiresAt === null) return;
    const delay = Date.parse(expiresAt) - Date.now();
    if (Number.isNaN(delay)) return;
    this.expiryTimer = setTimeout(
      () => (Date.parse(expiresAt) <= Date.now() ? this.end('Your session expired; log in again.') : this.scheduleExpiry()),
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
  }
}

function readStored(): StoredSession | null {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(SESSION_STORAGE_KEY) ?? 'null');
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      typeof (parsed as StoredSession).token === 'string' &&
      typeof (parsed as StoredSession).expires_at === 'string'
    ) {
      const { token, expires_at, username, role } = parsed as StoredSession;
      const known = typeof username === 'string' && (role === 'admin' || role === 'viewer');
      return known ? { token, expires_at, username, role } : { token, expires_at };
    }
  } catch {
    // A corrupt entry is no session.
  }
  return null;
}
