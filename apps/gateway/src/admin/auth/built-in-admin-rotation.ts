import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DataSource, IsNull } from 'typeorm';
import { AuditLog } from '@llmproxy/audit';
import type { AppConfig } from '@llmproxy/config';
import { AdminSessionEntity, SettingEntity } from '@llmproxy/persistence';
import { hashPassword, verifyPassword } from '../accounts/password-hash.js';

/** The settings row holding the scrypt hash of the ADMIN_PASSWORD of the last start (the settings API never reads it). */
const BUILT_IN_PASSWORD_KEY = 'built_in_admin_password';

/**
 * A new ADMIN_PASSWORD ends the built-in admin's sessions: at start, before the admin listener
 * serves, the password in force is checked against the hash the last start stored; when it differs,
 * every session of the built-in admin is deleted (audited) and the new hash stored. A leaked password
 * is then shut out by the restart that changes it, not at its sessions' expiry. Named accounts keep
 * their sessions (their passwords did not change). The first start of this version only stores the hash.
 * With replicas, the first to start with the new password ends the sessions; one still running with
 * the old password could sign the old password in until it restarts too.
 */
@Injectable()
export class BuiltInAdminRotation implements OnApplicationBootstrap {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
    private readonly config: ConfigService<AppConfig, true>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.check();
  }

  /** Returns how many sessions it ended. */
  async check(): Promise<number> {
    const password = this.config.get('adminPassword', { infer: true });
    const settings = this.dataSource.getRepository(SettingEntity);
    const stored = await settings.findOneBy({ key: BUILT_IN_PASSWORD_KEY });
    const previous = stored ? (JSON.parse(stored.value) as string) : undefined;
    if (previous !== undefined && (await verifyPassword(password, previous))) return 0;
    // Hashed before the transaction: scrypt takes tens of milliseconds, the write lock must not wait for it.
    const next = JSON.stringify(await hashPassword(password));
    return this.dataSource.transaction(async (manager) => {
      let ended = 0;
      if (previous !== undefined) {
        ended = (await manager.getRepository(AdminSessionEntity).delete({ accountId: IsNull() })).affected ?? 0;
        await this.audit.record({ action: 'admin_password.change', targetType: 'admin_session', targetName: 'admin', changes: { sessions_ended: { old: null, new: ended } } }, manager);
      }
      await manager.getRepository(SettingEntity).save({ key: BUILT_IN_PASSWORD_KEY, value: next });
      return ended;
    });
  }
}
