import { HttpClient, HttpContext } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { INLINE_ERRORS } from '../core/admin.interceptor';
import type { AuthMethods, ChangePasswordRequest, LoginRequest, LoginResponse, MeView } from './admin-api.types';

@Injectable({ providedIn: 'root' })
export class AuthApi {
  private readonly http = inject(HttpClient);

  /** The login form shows a wrong password or a throttle inline. Without a username: ADMIN_PASSWORD's built-in admin. */
  login(password: string, username?: string): Observable<LoginResponse> {
    const body: LoginRequest = username ? { username, password } : { password };
    return this.http.post<LoginResponse>('/api/login', body, { context: new HttpContext().set(INLINE_ERRORS, true) });
  }

  /** What the login page offers: the password form, single sign-on, or both (no login needed). */
  methods(): Observable<AuthMethods> {
    return this.http.get<AuthMethods>('/api/auth-methods', { context: new HttpContext().set(INLINE_ERRORS, true) });
  }

  /** The session a single sign-on just opened (the callback left it in a one-minute HttpOnly cookie), once. */
  ssoSession(): Observable<LoginResponse> {
    return this.http.post<LoginResponse>('/api/oidc/session', null, { context: new HttpContext().set(INLINE_ERRORS, true) });
  }

  /** Who the session belongs to, and its role. */
  me(): Observable<MeView> {
    return this.http.get<MeView>('/api/me');
  }

  /** The form shows a wrong current password inline. */
  changePassword(request: ChangePasswordRequest): Observable<void> {
    return this.http.put<void>('/api/me/password', request, { context: new HttpContext().set(INLINE_ERRORS, true) });
  }

  logout(): Observable<void> {
    return this.http.post<void>('/api/logout', null);
  }
}
