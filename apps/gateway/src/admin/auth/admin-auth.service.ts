import { ConflictException, ForbiddenException, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, type EntityManager, LessThanOrEqual, MoreThan, Not } from 'typeorm';
import { AuditLog, type AuditChanges } from '@llmproxy/audit';
import type { AppConfig } from '@llmproxy/config';
import { AdminAccountEntity, AdminSessionEntity, SqlClient } from '@llmproxy/persistence';
import { hashPassword, verifyPassword } from '../accounts/password-hash.js';
import { AdminPassword } from './admin-password.js';
import type { AdminRole } from '@llmproxy/api-types';
import { type AdminPrincipal, BUILT_IN_ADMIN, builtInAdmin } from './admin-principal.js';
import { isSsoUsername } from './oidc/sso-username.js';
import { type AuthFailures, authFailures, type Verdict } from './auth-failures.js';
import { MAX_KEY_LENGTH, throttleKey } from './auth-throttle.js';

export type AuthOutcome = { outcome: 'ok'; principal: AdminPrincipal } | Exclude<Verdict, { outcome: 'ok' }>;

export type LoginResult = { outcome: 'ok'; token: string; expiresAt: Date; principal: AdminPrincipal } | Exclude<AuthOutcome, { outcome: 'ok' }>;

/** Who tried, and where: the throttle counts per client, the audit shows both. Never the credential. */
export interface Attempt {
  client: string;
  /** `GET /api/settings`, `POST /api/login`, … */
  route: string;
}

/**
 * Who may use the admin API: `Bearer <ADMIN_PASSWORD>` (scripts; the built-in admin "admin") or
 * `Bearer <session token>` from POST /api/login, as the built-in admin or as a named account
 * (apps/gateway/src/admin/accounts). Sessions live in the database (only the token's SHA-256), so
 * every replica accepts them and they survive restarts. A session carries its account, not its role:
 * the role is read with the session on every request, so a demotion or a deletion counts at once.
 *
 * Every credential that is not a live session is a guess at a password, wherever it is sent
 * (the login form with or without a username, a Bearer on any route, a wrong METRICS_TOKEN on
 * /metrics, the current password when changing one's own): it goes through one throttle per client
 * (AuthFailures, shared by replicas through the database), and a wrong one is audited with the
 * address and the route, never the guess.
 *
 * The rule while a client is throttled: no secret is compared at all, so even the right one answers
 * 429 — were it let through, the answer would tell a guesser which guess was right, and the throttle
 * would not slow the guessing. A live session token still works: it was issued by a login that got
 * through, it cannot be guessed (256 random bits), and honouring it tells nothing about a password —
 * so an admin signed in to the UI is not locked out by a guesser behind the same NAT or proxy.
 *
 * A login with a username takes the same path whether the account exists or not: one lookup, one
 * scrypt verification (against a hash of a random password when there is no such account), one
 * answer ("wrong username or password"). Only the built-in "admin" skips the hashing; its name is
 * no secret.
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
  /** OIDC_ONLY: POST /api/login takes only ADMIN_PASSWORD (the break-glass), no named account. */
  private readonly ssoOnly: boolean;
  private readonly ssoName: string;
  /** Verified against when a username names no account, so that both cases cost one scrypt. */
  private readonly decoyHash: Promise<string> = hashPassword(randomBytes(24).toString('base64url'));

  constructor(
    private readonly password: AdminPassword,
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    sql: SqlClient,
    config: ConfigService<AppConfig, true>,
  ) {
    this.failures = authFailures(sql);
    this.sessionMs = config.get('adminSessionHours', { infer: true }) * 3_600_000;
    const oidc = config.get('oidc', { infer: true });
    this.ssoOnly = oidc?.only === true;
    this.ssoName = oidc?.providerName ?? '';
  }

  /** `username` absent (older clients) or "admin": ADMIN_PASSWORD's built-in admin; else a named account. */
  async login(username: string | undefined, password: string, client: string, now = new Date()): Promise<LoginResult> {
    const attempt = { client, route: 'POST /api/login' };
    const name = username?.trim().toLowerCase();
    let result: AuthOutcome;
    if (name === undefined || name === '' || name === BUILT_IN_ADMIN) {
      result = await this.attempt(attempt, now, () => (this.password.matches(password) ? builtInAdmin() : undefined));
    } else if (this.ssoOnly) {
      throw new ForbiddenException(`named accounts sign in with ${this.ssoName} (OIDC_ONLY); only ADMIN_PASSWORD's built-in admin may use a password`);
    } else {
      result = await this.slowAttempt(attempt, now, async () => {
        // An account of the OpenID provider has no password: it is looked up as no account at all.
        const account = isSsoUsername(name) ? null : await this.dataSource.getRepository(AdminAccountEntity).findOneBy({ username: name });
        const matches = await verifyPassword(password, account?.passwordHash ?? (await this.decoyHash));
        return account && matches ? principalOfAccount(account) : undefined;
      });
    }
    if (result.outcome !== 'ok') return result;
    const { principal } = result;
    const { token, expiresAt } = await this.dataSource.transaction((manager) => this.startSession(manager, principal, client, now));
    return { outcome: 'ok', token, expiresAt, principal: { ...principal, sessionHash: hashToken(token) } };
  }

  /**
   * Signs in an account of the OpenID provider (oidc/oidc-login.service.ts has checked the provider's
   * answer and mapped its claim to a role): creates its account on the first login, sets the role the
   * claim gives at every login (so a change at the provider counts from the next login, and a demotion
   * there from the next request after it), and opens a session like POST /api/login does. The account
   * has no password: the password login refuses it.
   */
  async ssoLogin(identity: SsoIdentity, client: string, now = new Date()): Promise<Extract<LoginResult, { outcome: 'ok' }>> {
    const { token, expiresAt, principal } = await this.dataSource.transaction(async (manager) => {
      const accounts = manager.getRepository(AdminAccountEntity);
      let account = await accounts.findOneBy({ username: identity.username });
      if (!account) {
        account = await accounts.save(accounts.create({ username: identity.username, role: identity.role, passwordHash: SSO_PASSWORD_HASH, passwordChangedAt: now }));
        await this.audit.record(
          { action: 'account.create', actor: identity.username, targetType: 'admin_account', targetId: account.id, targetName: identity.username, changes: { username: { old: null, new: identity.username }, role: { old: null, new: identity.role }, sso: { old: null, new: identity.provider } } },
          manager,
        );
      } else if (account.role !== identity.role) {
        const before = account.role;
        await accounts.update({ id: account.id }, { role: identity.role });
        account.role = identity.role;
        await this.audit.record(
          { action: 'account.update', actor: identity.username, targetType: 'admin_account', targetId: account.id, targetName: identity.username, changes: { role: { old: before, new: identity.role }, sso: { old: null, new: identity.provider } } },
          manager,
        );
      }
      const principal = principalOfAccount(account);
      const session = await this.startSession(manager, principal, client, now, { sso: { old: null, new: identity.provider }, provider_name: { old: null, new: identity.displayName } });
      return { ...session, principal };
    });
    return { outcome: 'ok', token, expiresAt, principal: { ...principal, sessionHash: hashToken(token) } };
  }

  /** A new session for `principal`, its audit row in the same transaction; the token leaves only in the answer. */
  private async startSession(manager: EntityManager, principal: AdminPrincipal, client: string, now: Date, extra: AuditChanges = {}): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.sessionMs);
    const sessions = manager.getRepository(AdminSessionEntity);
    await sessions.delete({ expiresAt: LessThanOrEqual(now) });
    await sessions.insert({ tokenHash: hashToken(token), createdAt: now, expiresAt, accountId: principal.accountId });
    await this.audit.record(
      {
        action: 'login.success',
        actor: principal.username,
        targetType: 'admin_session',
        changes: { client_address: { old: null, new: client }, expires_at: { old: null, new: expiresAt.toISOString() }, ...extra },
      },
      manager,
    );
    return { token, expiresAt };
  }

  /**
   * A live session token (of the built-in admin, or of an account that still exists), else the
   * admin password (constant-time) or what `alsoAccept` accepts (the metrics token on /metrics),
   * under the throttle.
   */
  async authenticate(credential: string, attempt: Attempt, alsoAccept?: (credential: string) => AdminPrincipal | undefined, now = new Date()): Promise<AuthOutcome> {
    const principal = await this.session(credential, now);
    if (principal) return { outcome: 'ok', principal };
    return this.attempt(attempt, now, () => (this.password.matches(credential) ? builtInAdmin() : alsoAccept?.(credential)));
  }

  /**
   * Changes a named account's own password after checking its current one (a guess like any other:
   * throttled and audited when wrong), and ends the account's other sessions. The built-in admin's
   * password is ADMIN_PASSWORD, set in the environment.
   */
  async changeOwnPassword(principal: AdminPrincipal, current: string, next: string, client: string, now = new Date()): Promise<AuthOutcome> {
    if (principal.accountId === null) throw new ConflictException(`the built-in '${BUILT_IN_ADMIN}' signs in with ADMIN_PASSWORD: change it in the environment and restart`);
    if (isSsoUsername(principal.username)) throw new ConflictException(`'${principal.username}' signs in with single sign-on and has no password here`);
    const accountId = principal.accountId;
    const result = await this.slowAttempt({ client, route: 'PUT /api/me/password' }, now, async () => {
      const account = await this.dataSource.getRepository(AdminAccountEntity).findOneBy({ id: accountId });
      const matches = await verifyPassword(current, account?.passwordHash ?? (await this.decoyHash));
      return account && matches ? principal : undefined;
    });
    if (result.outcome !== 'ok') return result;
    const passwordHash = await hashPassword(next);
    await this.dataSource.transaction(async (manager) => {
      await manager.getRepository(AdminAccountEntity).update({ id: accountId }, { passwordHash, passwordChangedAt: now });
      await endSessions(manager, accountId, principal.sessionHash);
      await this.audit.record(
        { action: 'account.password', targetType: 'admin_account', targetId: accountId, targetName: principal.username, changes: { password_changed: { old: null, new: true } } },
        manager,
      );
    });
    return result;
  }

  /** Ends the session the credential belongs to; a no-op for the admin password itself. */
  async logout(credential: string, client: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const result = await manager.getRepository(AdminSessionEntity).delete({ tokenHash: hashToken(credential) });
      if (!result.affected) return;
      await this.audit.record({ action: 'logout', targetType: 'admin_session', changes: { client_address: { old: null, new: client } } }, manager);
    });
  }

  /** A live session's account and expiry (the single sign-on hand-off to the UI), or nothing. */
  async liveSession(token: string, now = new Date()): Promise<{ principal: AdminPrincipal; expiresAt: Date } | undefined> {
    const session = await this.dataSource.getRepository(AdminSessionEntity).findOneBy({ tokenHash: hashToken(token), expiresAt: MoreThan(now) });
    const principal = session ? await this.session(token, now) : undefined;
    return session && principal ? { principal, expiresAt: session.expiresAt } : undefined;
  }

  private async session(credential: string, now: Date): Promise<AdminPrincipal | undefined> {
    // Looked up by hash: the timing depends on an unpredictable digest, not on the token's characters.
    const tokenHash = hashToken(credential);
    const session = await this.dataSource.getRepository(AdminSessionEntity).findOneBy({ tokenHash, expiresAt: MoreThan(now) });
    if (!session) return undefined;
    if (session.accountId === null) return builtInAdmin(tokenHash);
    const account = await this.dataSource.getRepository(AdminAccountEntity).findOneBy({ id: session.accountId });
    return account ? { ...principalOfAccount(account), sessionHash: tokenHash } : undefined;
  }

  /** `check` names who the credential belongs to, or nothing; it runs only when the client is not throttled, and one attempt of a client at a time. */
  private async attempt(attempt: Attempt, now: Date, check: () => AdminPrincipal | undefined): Promise<AuthOutcome> {
    let principal: AdminPrincipal | undefined;
    const verdict = await this.failures.attempt(throttleKey(attempt.client), now.getTime(), () => (principal = check()) !== undefined);
    if (verdict.outcome === 'invalid') await this.recordFailure(attempt);
    return verdict.outcome === 'ok' ? { outcome: 'ok', principal: principal! } : verdict;
  }

  /**
   * For a check too slow for the throttle's critical section (scrypt, tens of milliseconds): it runs
   * before, once a look says the client is not throttled, and its answer is then counted under the
   * lock like any other — a client's parallel guesses may cost some hashing, but get no more answers
   * than the limit.
   */
  private async slowAttempt(attempt: Attempt, now: Date, check: () => Promise<AdminPrincipal | undefined>): Promise<AuthOutcome> {
    const wait = await this.failures.retryAfter(throttleKey(attempt.client), now.getTime());
    if (wait > 0) return { outcome: 'throttled', retryAfterSeconds: wait };
    const principal = await check();
    return this.attempt(attempt, now, () => principal);
  }

  private async recordFailure(attempt: Attempt): Promise<void> {
    await this.audit.record({
      action: 'login.failure',
      actor: null,
      targetType: 'admin_session',
      changes: { client_address: { old: null, new: attempt.client.slice(0, MAX_KEY_LENGTH) }, route: { old: null, new: attempt.route } },
    });
  }
}

/** Who the OpenID provider says signed in, as this gateway names it. */
export interface SsoIdentity {
  /** `oidc:<sub>` (sso-username.ts). */
  username: string;
  role: AdminRole;
  /** OIDC_PROVIDER_NAME, for the audit. */
  provider: string;
  /** preferred_username, email or name, when the provider tells: the audit's clue to who `sub` is. */
  displayName: string | null;
}

/**
 * The stored "password" of an account of the OpenID provider: no scrypt hash, so no password ever
 * matches it (verifyPassword answers false for a malformed hash); the login looks such names up as
 * no account at all anyway.
 */
export const SSO_PASSWORD_HASH = 'sso';

export function principalOfAccount(account: AdminAccountEntity): AdminPrincipal {
  return { accountId: account.id, username: account.username, role: account.role === 'admin' ? 'admin' : 'viewer', sessionHash: null };
}

/** Ends an account's sessions, but for `keep` (the caller's own, when it changed its own password). */
export async function endSessions(manager: EntityManager, accountId: number, keep: string | null = null): Promise<void> {
  const sessions = manager.getRepository(AdminSessionEntity);
  await sessions.delete(keep === null ? { accountId } : { accountId, tokenHash: Not(keep) });
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
