import type { AdminRole } from '@llmproxy/api-types';

/**
 * The role OIDC_ROLE_CLAIM gives: `admin` when one of its values is in OIDC_ADMIN_VALUES, else
 * `viewer` when one is in OIDC_VIEWER_VALUES, else none (the login is refused). The claim may be a
 * string or a list of strings (groups, roles), reached by a dotted path (`realm_access.roles`);
 * values are compared exactly.
 */
export function roleFromClaims(claims: Record<string, unknown>, claim: string, adminValues: readonly string[], viewerValues: readonly string[]): AdminRole | null {
  const values = claimValues(claims, claim);
  if (values.some((value) => adminValues.includes(value))) return 'admin';
  if (values.some((value) => viewerValues.includes(value))) return 'viewer';
  return null;
}

/** The claim's string values; a claim named with dots is first looked up whole (some providers use URLs as claim names). */
export function claimValues(claims: Record<string, unknown>, claim: string): string[] {
  let value: unknown = claims[claim];
  if (value === undefined && claim.includes('.')) {
    value = claim.split('.').reduce<unknown>((node, part) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), claims);
  }
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((entry): entry is string => typeof entry === 'string');
  return [];
}
