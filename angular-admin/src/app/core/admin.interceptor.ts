import { HttpContextToken, HttpErrorResponse, type HttpInterceptorFn } from '@angular/common/http';
import { inject } from '@angular/core';
import { MatSnackBar } from '@angular/material/snack-bar';
import { catchError, throwError } from 'rxjs';
import { ApiError } from './api-error';
import { SessionService } from './session.service';

/** Set on requests whose caller shows the error itself (inline in a form); the snackbar stays quiet. */
export const INLINE_ERRORS = new HttpContextToken<boolean>(() => false);

/** Requests that must not carry a token, nor end a session with their 401 (a wrong password is not an expired session). */
const UNAUTHENTICATED = ['/api/login', '/api/auth-methods', '/api/oidc/session'];

/**
 * The one interceptor of the admin UI: it adds the session token to admin API calls, turns every
 * failure into an ApiError with a readable message, sends a 401 back to the login page, and shows
 * every other failure in a snackbar unless the caller said it shows it inline.
 */
export const adminInterceptor: HttpInterceptorFn = (request, next) => {
  const session = inject(SessionService);
  const snackBar = inject(MatSnackBar);
  const path = sameOriginPath(request.url);
  const isApi = path !== null && path.startsWith('/api/');
  const isLogin = path !== null && UNAUTHENTICATED.includes(path);
  const token = session.token();

  const outgoing = isApi && !isLogin && token !== null ? request.clone({ setHeaders: { Authorization: `Bearer ${token}` } }) : request;

  return next(outgoing).pipe(
    catchError((error: unknown) => {
      if (!(error instanceof HttpErrorResponse)) return throwError(() => error);
      const apiError = ApiError.from(error);
      if (error.status === 401 && isApi && !isLogin) {
        // logout's own 401 means the session was already gone: nothing to tell.
        session.end(path === '/api/logout' ? null : 'Your session has ended; log in again.');
      } else if (!request.context.get(INLINE_ERRORS)) {
        snackBar.open(apiError.message, 'Dismiss', { duration: 8000, panelClass: 'error-snackbar' });
      }
      return throwError(() => apiError);
    }),
  );
};

/** The path of a URL on this UI's own origin; null for other origins, which never get the token. */
function sameOriginPath(url: string): string | null {
  try {
    const parsed = new URL(url, location.origin);
    return parsed.origin === location.origin ? parsed.pathname : null;
  } catch {
    return null;
  }
}
