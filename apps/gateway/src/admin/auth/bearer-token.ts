import type { Request } from 'express';

/** The credential of `Authorization: Bearer <…>`, or undefined. */
export function bearerToken(request: Request): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
  return match?.[1]?.trim() || undefined;
}
