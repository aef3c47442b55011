import { ScopedStorage } from '@llmproxy/persistence';

/** The account a request acts as, filled in once the admin guard knows it. */
interface ActorScope {
  actor: string | null;
}

const scopes = new ScopedStorage<ActorScope>();

/**
 * Who is behind the audit rows written while `fn` runs: a request of the admin listener runs in a
 * scope of its own (a middleware), the guard names the account in it, and every `AuditLog.record`
 * under that request — in a controller, a service or a lib — writes it as `actor` without each
 * service passing it on. Outside a scope (the CLI, start-up seeding) the actor is null.
 */
export const auditActor = {
  /**
   * Runs `fn` — an admin request's handling — in a scope of its own, open until `close` is called
   * (the response's end): while no admin request is open, no async hook runs on the data plane's promises.
   */
  enter(fn: () => void): () => void {
    return scopes.enter({ actor: null }, fn);
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
