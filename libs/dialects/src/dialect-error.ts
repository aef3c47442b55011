/**
 * A client's request cannot be translated: the controller answers `status` with `message` in the
 * caller's dialect (and `param`, the field at fault, where the dialect has one; `code`, OpenAI's
 * error code, where the status alone does not say it).
 */
export class DialectError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'DialectError';
  }
}
