/** The server's rule for account passwords (apps/gateway/src/admin/accounts/account.dto.ts), checked before sending. */
export const MIN_PASSWORD_LENGTH = 12;
