import { HttpClient, HttpContext } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { INLINE_ERRORS } from '../core/admin.interceptor';
import type { AccountView, CreateAccountRequest, UpdateAccountRequest } from './admin-api.types';

const BASE = '/api/accounts';

/** The page shows these errors beside the form or the row they belong to. */
const inline = () => ({ context: new HttpContext().set(INLINE_ERRORS, true) });

/** Named admin accounts (admins only). Passwords go out, never come back. */
@Injectable({ providedIn: 'root' })
export class AccountsApi {
  private readonly http = inject(HttpClient);

  list(): Observable<AccountView[]> {
    return this.http.get<AccountView[]>(BASE);
  }

  create(request: CreateAccountRequest): Observable<AccountView> {
    return this.http.post<AccountView>(BASE, request, inline());
  }

  update(id: number, request: UpdateAccountRequest): Observable<AccountView> {
    return this.http.patch<AccountView>(`${BASE}/${id}`, request, inline());
  }

  delete(id: number): Observable<void> {
    return this.http.delete<void>(`${BASE}/${id}`, inline());
  }
}
