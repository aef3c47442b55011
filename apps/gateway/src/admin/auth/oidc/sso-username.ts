import { createHash } from 'node:crypto';

export const SSO_PREFIX = 'oidc:';

/**
 * The gateway's name for an account of the OpenID provider: `oidc:<sub>`.
 *
 * `sub` because it is the one claim the specification makes stable and unique at an issuer — an
 * e-mail address or a preferred_username may change or be handed to someone else later, and the
 * account (its audit trail, its sessions) must not pass with it. The prefix keeps it apart from the
 * local accounts, whose names cannot contain `:` (accounts/account.dto.ts) and can therefore never
 * collide with it. A `sub` that does not fit the 64-character column in printable ASCII is named by
 * its SHA-256 instead (`oidc:#<43 base64url characters>`), still stable.
 */
export function ssoUsername(sub: string): string {
  if (/^[\x21-\x7e]{1,59}$/.test(sub)) return `${SSO_PREFIX}${sub}`;
  return `${SSO_PREFIX}#${createHash('sha256').update(sub, 'utf8').digest('base64url')}`;
}

export function isSsoUsername(username: string): boolean {
  return username.startsWith(SSO_PREFIX);
}
