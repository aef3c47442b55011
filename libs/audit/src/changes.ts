/** `{ field: { old, new } }`: what an admin write changed. */
export type AuditChanges = Record<string, { old: unknown; new: unknown }>;

/**
 * The fields whose value differs between `before` and `after` (compared as JSON, so arrays and
 * objects compare by content). Fields absent from `after` were not touched and are left out.
 */
export function diffFields<T extends Record<string, unknown>>(before: T, after: Partial<T>, fields: readonly (keyof T & string)[]): AuditChanges {
  const changes: AuditChanges = {};
  for (const field of fields) {
    if (!(field in after)) continue;
    const old = before[field] ?? null;
    const value = after[field] ?? null;
    if (JSON.stringify(old) !== JSON.stringify(value)) changes[field] = { old, new: value };
  }
  return changes;
}

/** Every field of `values` as newly set (a creation) or, with `removed`, as gone (a deletion). */
export function allFields(values: Record<string, unknown>, removed = false): AuditChanges {
  const changes: AuditChanges = {};
  for (const [field, value] of Object.entries(values)) {
    if (value === null || value === undefined) continue;
    changes[field] = removed ? { old: value, new: null } : { old: null, new: value };
  }
  return changes;
}

/** Field names that would carry a secret. Audit rows are shown to anyone with admin access and kept for good. */
const SECRET_FIELDS = /^(key|plaintext|key_hash|hash|password|token|token_hash|secret)$/i;

/** A programming error, caught before it reaches the table: an audit row must never hold a secret. */
export function assertNoSecret(changes: AuditChanges): void {
  for (const field of Object.keys(changes)) {
    if (SECRET_FIELDS.test(field)) throw new Error(`audit changes must not contain the secret field '${field}'`);
  }
}

/** `http://user:pass@host` → `http://user:***@host`: a URL's password never reaches the audit log. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
  } catch {
    return url;
  }
}
