import { HttpClient, HttpContext } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { INLINE_ERRORS } from '../core/admin.interceptor';
import type { LoginResponse } from './admin-api.types';

@Injectable({ providedIn: 'root' })
export class AuthApi {
  private readonly http = inject(HttpClient);

  /** The login form shows a wrong password or a throttle inline. */
  login(password: string): Observable<LoginResponse> {
    return this.http.post<LoginResponse>('/api/login', { password }, { context: new HttpContext().set(INLINE_ERRORS, true) });
  }

  logout(): Observable<void> {
    return this.http.post<void>('/api/logout', null);
  }
}
