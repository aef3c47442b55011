import { HttpErrorResponse } from '@angular/common/http';
import type { ApiErrorBody } from '../api/admin-api.types';

/** An admin API failure reduced to what a person should read, plus the raw body for callers that need more. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
    /** Seconds, from Retry-After on a 429. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  static from(response: HttpErrorResponse): ApiError {
    const retryAfterHeader = response.headers?.get('Retry-After');
    const retryAfter = retryAfterHeader !== null && retryAfterHeader !== undefined && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : null;
    return new ApiError(response.status, describe(response), response.error, retryAfter);
  }
}

/** A message for anything a subscriber may receive as an error. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof HttpErrorResponse) return describe(error);
  if (error instanceof Error) return error.message;
  return String(error);
}

function describe(response: HttpErrorResponse): string {
  if (response.status === 0) return 'The admin API did not answer; is the gateway running?';
  const body = parseBody(response.error);
  if (body) {
    const text = Array.isArray(body.message) ? body.message.join('; ') : body.message;
    if (text) return text;
  }
  if (typeof response.error === 'string' && response.error.trim() !== '' && !response.error.trimStart().startsWith('<')) {
    return response.error.trim();
  }
  return `${response.status} ${response.statusText || 'error'} from ${response.url ?? 'the admin API'}`;
}

function parseBody(error: unknown): ApiErrorBody | null {
  let value = error;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  if (typeof value === 'object' && value !== null && 'message' in value) {
    const message = (value as ApiErrorBody).message;
    if (typeof message === 'string' || (Array.isArray(message) && message.every((m) => typeof m === 'string'))) {
      return value as ApiErrorBody;
    }
  }
  return null;
}
