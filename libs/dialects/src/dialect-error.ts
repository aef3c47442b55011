/**
 * A client's request cannot be translated: the controller answers `status` with `message` in the
 * caller's dialect (and `param`, the field at fault, where the dialect has one).
 */
export class DialectError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param?: string,
  ) {
    super(message);
    this.name = 'DialectError';
  }
}
