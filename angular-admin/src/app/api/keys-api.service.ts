import { HttpClient, HttpContext } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { INLINE_ERRORS } from '../core/admin.interceptor';
import type {
  ApiKeyView,
  ApiKeyWithSecret,
  ApiKeyWithUsage,
  CreateApiKeyRequest,
  QuotaLimits,
  UpdateApiKeyRequest,
} from './admin-api.types';

const BASE = '/api/api-keys';

/** Writes from dialogs show their errors inline (the dialog stays open to fix the field). */
const inline = () => ({ context: new HttpContext().set(INLINE_ERRORS, true) });

@Injectable({ providedIn: 'root' })
export class KeysApi {
  private readonly http = inject(HttpClient);

  list(): Observable<ApiKeyWithUsage[]> {
    return this.http.get<ApiKeyWithUsage[]>(BASE);
  }

  create(request: CreateApiKeyRequest): Observable<ApiKeyWithSecret> {
    return this.http.post<ApiKeyWithSecret>(BASE, request, inline());
  }

  update(id: number, request: UpdateApiKeyRequest): Observable<ApiKeyWithUsage> {
    return this.http.patch<ApiKeyWithUsage>(`${BASE}/${id}`, request, inline());
  }

  setQuota(id: number, limits: QuotaLimits): Observable<ApiKeyWithUsage> {
    return this.http.patch<ApiKeyWithUsage>(`${BASE}/${id}/quota`, limits, inline());
  }

  rotate(id: number): Observable<ApiKeyWithSecret> {
    return this.http.post<ApiKeyWithSecret>(`${BASE}/${id}/rotate`, null);
  }

  setActive(id: number, active: boolean): Observable<ApiKeyView> {
    return this.http.put<ApiKeyView>(`${BASE}/${id}/${active ? 'activate' : 'deactivate'}`, null);
  }

  delete(id: number): Observable<void> {
    return this.http.delete<void>(`${BASE}/${id}`);
  }
}
