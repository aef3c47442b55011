import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import type { AccountView, AdminRole } from '@llmproxy/api-types';
import { DataSource, type EntityManager, QueryFailedError } from 'typeorm';
import { allFields, AuditLog, type AuditChanges, diffFields } from '@llmproxy/audit';
import { AdminAccountEntity } from '@llmproxy/persistence';
import { endSessions } from '../auth/admin-auth.service.js';
import { type AdminPrincipal, BUILT_IN_ADMIN } from '../auth/admin-principal.js';
import { hashPassword } from './password-hash.js';
import { isSsoUsername } from '../auth/oidc/sso-username.js';

export interface AccountInput {
  username: string;
  role: AdminRole;
  password: string;
}

/** With no admin left among them, demoting or deleting is refused. */
const LAST_ADMIN = 'the last admin account cannot be deleted or made a viewer: make another account an admin first';

/**
 * Named admin accounts. Writes and their audit rows commit together; passwords are hashed here
 * (scrypt) and never leave this class in any form.
 *
 * The last admin: at least one stored account stays an admin once there is one. ADMIN_PASSWORD's
 * built-in admin is not counted — it is the break-glass for the operator of the server, not an
 * account the admins of the UI manage — so admins cannot lock each other out of the account
 * management by deleting or demoting every admin. The check is part of the statement that deletes or
 * demotes (SQLite: one statement is atomic), after locking the admin rows on PostgreSQL (replicas
 * demoting two different admins at once must not both see the other still there).
 */
@Injectable()
export class AccountsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditLog,
  ) {}

  async list(): Promise<AccountView[]> {
    const accounts = await this.dataSource.getRepository(AdminAccountEntity).find({ order: { id: 'ASC' } });
    return accounts.map(toView);
  }

  async create(input: AccountInput): Promise<AccountView> {
    notBuiltIn(input.username);
    const passwordHash = await hashPassword(input.password);
    return this.write(async (manager) => {
      const repository = manager.getRepository(AdminAccountEntity);
      await nameFree(manager, input.username);
      const now = new Date();
      const saved = await repository.save(repository.create({ username: input.username, role: input.role, passwordHash, passwordChangedAt: now }));
      const view = toView(saved);
      await this.audit.record({ action: 'account.create', targetType: 'admin_account', targetId: view.id, targetName: view.username, changes: allFields(audited(view)) }, manager);
      return view;
    });
  }

  /** `by`: who asks — a password reset ends the account's sessions, but for the asker's own session. */
  async update(id: number, input: Partial<AccountInput>, by: AdminPrincipal): Promise<AccountView> {
    if (input.username !== undefined) notBuiltIn(input.username);
    const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password);
    return this.write(async (manager) => {
      const repository = manager.getRepository(AdminAccountEntity);
      const entity = await found(manager, id);
      const before = toView(entity);
      if (isSsoUsername(entity.username) && (input.password !== undefined || (input.username !== undefined && input.username !== entity.username))) {
        throw new ConflictException(`'${entity.username}' signs in with single sign-on: it has no password here and keeps its name (its role may change, and the provider's claim sets it again at the next login)`);
      }
      if (input.role === 'viewer' && entity.role === 'admin') {
        await lockAdmins(manager);
        const demoted = await manager
          .createQueryBuilder()
          .update(AdminAccountEntity)
          .set({ role: 'viewer' })
          .where('id = :id', { id })
          .andWhere(`EXISTS (SELECT 1 FROM admin_accounts other WHERE other.role = 'admin' AND other.id <> :id)`)
          .execute();
        if (!demoted.affected) throw new ConflictException(LAST_ADMIN);
        entity.role = 'viewer';
      }
      if (input.role === 'admin') entity.role = 'admin';
      if (input.username !== undefined && input.username !== entity.username) {
        await nameFree(manager, input.username);
        entity.username = input.username;
      }
      if (passwordHash !== undefined) {
        entity.passwordHash = passwordHash;
        entity.passwordChangedAt = new Date();
      }
      const after = toView(await repository.save(entity));
      const changes: AuditChanges = diffFields(audited(before), audited(after), ['username', 'role']);
      if (passwordHash !== undefined) {
        await endSessions(manager, id, by.accountId === id ? by.sessionHash : null);
        changes['password_reset'] = { old: null, new: true };
      }
      if (Object.keys(changes).length > 0) {
        await this.audit.record({ action: 'account.update', targetType: 'admin_account', targetId: id, targetName: after.username, changes }, manager);
      }
      return after;
    });
  }

  /** Deletes the account and its sessions at once: a token it held stops working with the next request. */
  async remove(id: number): Promise<void> {
    await this.write(async (manager) => {
      const entity = await found(manager, id);
      await lockAdmins(manager);
      const deleted = await manager
        .createQueryBuilder()
        .delete()
        .from(AdminAccountEntity)
        .where('id = :id', { id })
        .andWhere(`(role <> 'admin' OR EXISTS (SELECT 1 FROM admin_accounts other WHERE other.role = 'admin' AND other.id <> :id))`)
        .execute();
      if (!deleted.affected) throw new ConflictException(LAST_ADMIN);
      await endSessions(manager, id);
      const before = toView(entity);
      await this.audit.record({ action: 'account.delete', targetType: 'admin_account', targetId: id, targetName: before.username, changes: allFields(audited(before), true) }, manager);
    });
  }

  /** A transaction whose unique-username race (two admins creating one name at once) answers 409, not 500. */
  private async write<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await this.dataSource.transaction(work);
    } catch (error) {
      if (error instanceof QueryFailedError && /unique|duplicate/i.test(error.message)) throw new ConflictException('an account with this username already exists');
      throw error;
    }
  }
}

function toView(entity: AdminAccountEntity): AccountView {
  return {
    id: entity.id,
    username: entity.username,
    role: entity.role === 'admin' ? 'admin' : 'viewer',
    created_at: entity.createdAt.toISOString(),
    updated_at: entity.updatedAt.toISOString(),
    password_changed_at: entity.passwordChangedAt.toISOString(),
  };
}

/** What the audit shows of an account: never the password or its hash. */
function audited(view: AccountView): Record<'username' | 'role', unknown> {
  return { username: view.username, role: view.role };
}

function notBuiltIn(username: string): void {
  if (username === BUILT_IN_ADMIN) throw new ConflictException(`'${BUILT_IN_ADMIN}' is the built-in admin of ADMIN_PASSWORD; choose another username`);
}

async function nameFree(manager: EntityManager, username: string): Promise<void> {
  if (await manager.getRepository(AdminAccountEntity).existsBy({ username })) throw new ConflictException(`an account named '${username}' already exists`);
}

async function found(manager: EntityManager, id: number): Promise<AdminAccountEntity> {
  const entity = await manager.getRepository(AdminAccountEntity).findOneBy({ id });
  if (!entity) throw new NotFoundException(`account ${id} not found`);
  return entity;
}

async function lockAdmins(manager: EntityManager): Promise<void> {
  if (manager.connection.driver.options.type === 'postgres') await manager.query(`SELECT id FROM admin_accounts WHERE role = 'admin' FOR UPDATE`);
}
