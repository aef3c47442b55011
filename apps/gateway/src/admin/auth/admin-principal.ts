import type { AdminRole } from '@llmproxy/api-types';
import type { Request } from 'express';

/** The username ADMIN_PASSWORD signs in as; no stored account may take it. */
export const BUILT_IN_ADMIN = 'admin';

/** Who an admin request acts as, once the guard let it through. */
export interface AdminPrincipal {
  /** The stored account; null for the built-in admin (ADMIN_PASSWORD) and the metrics token. */
  accountId: number | null;
  username: string;
  role: AdminRole;
  /** The session token's hash when the credential was a session. */
  sessionHash: string | null;
}

export const builtInAdmin = (sessionHash: string | null = null): AdminPrincipal => ({ accountId: null, username: BUILT_IN_ADMIN, role: 'admin', sessionHash });

/** METRICS_TOKEN on GET /metrics: reads, nothing else. */
export const METRICS_SCRAPER: AdminPrincipal = { accountId: null, username: 'metrics', role: 'viewer', sessionHash: null };

const PRINCIPAL = Symbol('llmproxy.admin-principal');

export function setPrincipal(request: Request, principal: AdminPrincipal): void {
  (request as unknown as Record<symbol, AdminPrincipal>)[PRINCIPAL] = principal;
}

/** The principal the guard set; only on guarded (not @Public) routes. */
export function principalOf(request: Request): AdminPrincipal {
  const principal = (request as unknown as Record<symbol, AdminPrincipal | undefined>)[PRINCIPAL];
  if (!principal) throw new Error('no admin principal on this request: the route is @Public() or the guard did not run');
  return principal;
}
