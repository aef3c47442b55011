import { AsyncLocalStorage } from 'node:async_hooks';

/** The account a request acts as, filled in once the admin guard knows it. */
interface ActorScope {
  actor: string | null;
}

const scopes = new AsyncLocalStorage<ActorScope>();

/**
 * Who is behind the audit rows written while `fn` runs: a request of the admin listener runs in a
 * scope of its own (a middleware), the guard names the account in it, and every `AuditLog.record`
 * under that request — in a controller, a service or a lib — writes it as `actor` without each
 * service passing it on. Outside a scope (the CLI, start-up seeding) the actor is null.
 */
export const auditActor = {
  run<T>(fn: () => T): T {
    return scopes.run({ actor: null }, fn);
  },
  /** Names the account of the current scope; a no-op outside one. */
  set(actor: string): void {
    const scope = scopes.getStore();
    if (scope) scope.actor = actor;
  },
  current(): string | null {
    return scopes.getStore()?.actor ?? null;
  },
};
