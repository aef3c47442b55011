import type { Dialect } from './dialect.js';

/** Anthropic's error types by status (docs: errors). */
const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/**
 * OpenAI's `type` and `code` by status, as its API and Ollama's /v1 layer send them. A 404 there is
 * an unknown model, which OpenAI's API calls an invalid request with the code `model_not_found`.
 */
const OPENAI_TYPES: Record<number, { type: string; code: string | null }> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { type: 'permission_error', code: null },
  404: { type: 'invalid_request_error', code: 'model_not_found' },
  413: { type: 'invalid_request_error', code: 'request_too_large' },
  429: { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' },
};

export interface ErrorDetails {
  /** Overrides the code derived from the status (OpenAI `code`). */
  code?: string;
  /** Overrides the type derived from the status (OpenAI `type`). */
  type?: string;
  /** OpenAI `param`: the request field at fault. */
  param?: string;
  /** Anthropic `request_id`. */
  requestId?: string;
}

/**
 * What a client of each dialect is told about a path the proxy does not serve: 404, in OpenAI's
 * terms an invalid request (its own API answers an unknown URL so) with a code that says why —
 * the status alone reads as model_not_found there.
 */
export const UNKNOWN_ROUTE: ErrorDetails = { type: 'invalid_request_error', code: 'unknown_route' };

/** The error body a client of `dialect` expects for `status` (DESIGN.md §5). */
export function errorBody(dialect: Dialect, status: number, message: string, details: ErrorDetails = {}): object {
  switch (dialect) {
    case 'ollama':
      return { error: message };
    case 'openai': {
      const known = OPENAI_TYPES[status] ?? { type: status >= 500 ? 'api_error' : 'invalid_request_error', code: null };
      return { error: { message, type: details.type ?? known.type, param: details.param ?? null, code: details.code ?? known.code } };
    }
    case 'anthropic': {
      const type = ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
      return {
        type: 'error',
        error: { type, message },
        ...(details.requestId ? { request_id: details.requestId } : {}),
      };
    }
  }
}
