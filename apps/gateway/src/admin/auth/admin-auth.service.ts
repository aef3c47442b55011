import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, LessThanOrEqual, MoreThan } from 'typeorm';
import { AuditLog } from '@llmproxy/audit';
import type { AppConfig } from '@llmproxy/config';
import { AdminSessionEntity } from '@llmproxy/persistence';
import { AdminPassword } from './admin-password.js';
import { LoginThrottle } from './login-throttle.js';

export type LoginResult =
  | { outcome: 'ok'; token: string; expiresAt: Date }
  | { outcome: 'invalid' }
  | { outcome: 'throttled'; retryAfterSeconds: number };

/**
 * Who may use the admin API: `Bearer <ADMIN_PASSWORD>` (scripts) or `Bearer <session token>` from
 * POST /api/login. Sessions live in the database (only the token's SHA-256), so every replica
 * accepts them and they survive restarts; the failed-login throttle is per process.
 */
@Injectable()
export class AdminAuthService {
  private readonly throttle = new LoginThrottle();
  private readonly sessionMs: number;

  constructor(
    private readonly password: AdminPassword,
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    config: ConfigService<AppConfig, true>,
  ) {
    this.sessionMs = config.get('adminSessionHours', { infer: true }) * 3_600_000;
  }

  async login(password: string, client: string, now = new Date()): Promise<LoginResult> {
    const retryAfterSeconds = this.throttle.retryAfterSeconds(client, now.getTime());
    if (retryAfterSeconds > 0) return { outcome: 'throttled', retryAfterSeconds };
    if (!this.password.matches(password)) {
      this.throttle.recordFailure(client, now.getTime());
      await this.audit.record({
        action: 'login.failure',
        targetType: 'admin_session',
        changes: { client_address: { old: null, new: client } },
      });
      return { outcome: 'invalid' };
    }
    this.throttle.recordSuccess(client);
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

  /** True for the admin password (constant-time) or the token of an unexpired session. */
  async authenticate(credential: string, now = new Date()): Promise<boolean> {
    if (this.password.matches(credential)) return true;
    // Looked up by hash: the timing depends on an unpredictable digest, not on the token's characters.
    return this.dataSource.getRepository(AdminSessionEntity).existsBy({ tokenHash: hashToken(credential), expiresAt: MoreThan(now) });
  }

  /** Ends the session the credential belongs to; a no-op for the admin password itself. */
  async logout(credential: string, client: string): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const result = await manager.getRepository(AdminSessionEntity).delete({ tokenHash: hashToken(credential) });
      if (!result.affected) return;
      await this.audit.record({ action: 'logout', targetType: 'admin_session', changes: { client_address: { old: null, new: client } } }, manager);
    });
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
