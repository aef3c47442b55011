import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, LessThanOrEqual, MoreThan } from 'typeorm';
import { AuditLog } from '@llmproxy/audit';
import type { AppConfig } from '@llmproxy/config';
import { AdminSessionEntity, SqlClient } from '@llmproxy/persistence';
import { AdminPassword } from './admin-password.js';
import { type AuthFailures, authFailures, type Verdict } from './auth-failures.js';
import { MAX_KEY_LENGTH, throttleKey } from './auth-throttle.js';

export type AuthOutcome = Verdict;

export type LoginResult = { outcome: 'ok'; token: string; expiresAt: Date } | Exclude<AuthOutcome, { outcome: 'ok' }>;

/** Who tried, and where: the throttle counts per client, the audit shows both. Never the credential. */
export interface Attempt {
  client: string;
  /** `GET /api/settings`, `POST /api/login`, … */
  route: string;
}

/**
 * Who may use the admin API: `Bearer <ADMIN_PASSWORD>` (scripts) or `Bearer <session token>` from
 * POST /api/login. Sessions live in the database (only the token's SHA-256), so every replica
 * accepts them and they survive restarts.
 *
 * Every credential that is not a live session is a guess at ADMIN_PASSWORD, wherever it is sent
 * (the login form, a Bearer on any route, a wrong METRICS_TOKEN on /metrics): it goes through one
 * throttle per client (AuthFailures, shared by replicas through the database), and a wrong one is
 * audited with the address and the route, never the guess.
 *
 * The rule while a client is throttled: no secret the operator chose (ADMIN_PASSWORD, METRICS_TOKEN)
 * is compared at all, so even the right one answers 429 — were it let through, the answer would tell
 * a guesser which guess was right, and the throttle would not slow the guessing. A live session token
 * still works: it was issued by a login that got through, it cannot be guessed (256 random bits), and
 * honouring it tells nothing about the password — so an admin signed in to the UI is not locked out by
 * a guesser behind the same NAT or proxy.
 *
 * A right password does not wipe the client's earlier failures (the in-process throttle did on a
 * login): they age out within the minute. Wiping them would hand a guesser sharing an address with a
 * script that uses the password (behind a reverse proxy without TRUST_PROXY: everyone) ten fresh
 * tries after every call of that script.
 */
@Injectable()
export class AdminAuthService {
  private readonly failures: AuthFailures;
  private readonly sessionMs: number;

  constructor(
    private readonly password: AdminPassword,
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    sql: SqlClient,
    config: ConfigService<AppConfig, true>,
  ) {
    this.failures = authFailures(sql);
    this.sessionMs = config.get('adminSessionHours', { infer: true }) * 3_600_000;
  }

  async login(password: string, client: string, now = new Date()): Promise<LoginResult> {
    const result = await this.attempt({ client, route: 'POST /api/login' }, now, () => this.password.matches(password));
    if (result.outcome !== 'ok') return result;
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.sessionMs);
    await this.dataSource.transaction(async (manager) => {
      const sessions = manager.getRepository(AdminSessionEntity);
      await sessions.delete({ expiresAt: LessThanOrEqual(now) });
      await sessions.insert({ tokenHash: hashToken(token), createdAt: now, expiresAt });
      await this.audit.record(
        {
          action: 'login.success',
          targetType: 'admin_session',
          changes: { client_address: { old: null, new: client }, expires_at: { old: null, new: expiresAt.toISOString() } },
        },
        manager,
      );
    });
    return { outcome: 'ok', token, expiresAt };
  }

  /**
   * A live session token, else the admin password (constant-time) or what `alsoAccept` accepts (the
   * metrics token on /metrics), under the throttle.
   */
  async authenticate(credential: string, attempt: Attempt, alsoAccept?: (credential: string) => boolean, now = new Date()): Promise<AuthOutcome> {
    // Looked up by hash: the timing depends on an unpredictable digest, not on the token's characters.
    const session = await this.dataSource.getRepository(AdminSessionEntity).existsBy({ tokenHash: hashToken(credential), expiresAt: MoreThan(now) });
    if (session) return { outcome: 'ok' };
    return this.attempt(attempt, now, () => this.password.matches(credential) || alsoAccept?.(credential) === true);
  }

  /** Ends the session the credential belongs to; a no-op for the admin password itself. */
  async logout(credential: string, client: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const result = await manager.getRepository(AdminSessionEntity).delete({ tokenHash: hashToken(credential) });
      if (!result.affected) return;
      await this.audit.record({ action: 'logout', targetType: 'admin_session', changes: { client_address: { old: null, new: client } } }, manager);
    });
  }

  /** `check` compares the credential; it runs only when the client is not throttled, and one attempt of a client at a time. */
  private async attempt(attempt: Attempt, now: Date, check: () => boolean): Promise<AuthOutcome> {
    const verdict = await this.failures.attempt(throttleKey(attempt.client), now.getTime(), check);
    if (verdict.outcome === 'invalid') {
      await this.audit.record({
        action: 'login.failure',
        targetType: 'admin_session',
        changes: { client_address: { old: null, new: attempt.client.slice(0, MAX_KEY_LENGTH) }, route: { old: null, new: attempt.route } },
      });
    }
    return verdict;
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
