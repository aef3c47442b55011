import { SetMetadata } from '@nestjs/common';
import type { AdminRole } from '@llmproxy/api-types';

export const ROLE_RULE = 'llmproxy:role-rule';

/**
 * Which role a route needs, when the default does not fit. The default, for every guarded route:
 * reads (GET, HEAD) are open to viewers, everything else needs `admin` — so a write route added
 * later is closed to viewers without anyone remembering to mark it.
 */
export type RoleRule = 'any-role' | 'admin-only';

/** A write a viewer may make: logging out, changing its own password. */
export const AnyRole = () => SetMetadata(ROLE_RULE, 'any-role' satisfies RoleRule);

/** Closed to viewers even for reads (the accounts list). */
export const AdminOnly = () => SetMetadata(ROLE_RULE, 'admin-only' satisfies RoleRule);

const READS = new Set(['GET', 'HEAD']);

export function mayCall(role: AdminRole, method: string, rule: RoleRule | undefined): boolean {
  if (role === 'admin' || rule === 'any-role') return true;
  if (rule === 'admin-only') return false;
  return READS.has(method.toUpperCase());
}
