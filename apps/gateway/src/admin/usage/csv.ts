/**
 * RFC 4180: a field with a comma, quote, CR or LF is quoted, its quotes doubled; lines end with CRLF.
 * Key names and client-chosen model names reach these files, and a spreadsheet runs a cell that
 * begins with = + - @, a tab or a carriage return as a formula: such text is prefixed with a single
 * quote and quoted, so it reads as text (OWASP, CSV injection). Numbers are written as they are.
 */
export function toCsv(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [header, ...rows].map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}

const FORMULA_START = /^[=+\-@\t\r]/;

function field(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const raw = String(value);
  const text = FORMULA_START.test(raw) ? `'${raw}` : raw;
  return text !== raw || /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}
