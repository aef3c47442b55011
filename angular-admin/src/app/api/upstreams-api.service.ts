import { HttpClient, HttpContext } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { INLINE_ERRORS } from '../core/admin.interceptor';
import type { CreateUpstreamRequest, UpdateUpstreamRequest, UpstreamView } from './admin-api.types';

const BASE = '/api/upstreams';

/** The caller shows the error itself: inline in the form, or beside the list (a refresh every few seconds must not stack snackbars). */
const inline = () => ({ context: new HttpContext().set(INLINE_ERRORS, true) });

/** The Ollama servers behind the gateway (DESIGN.md §9). */
@Injectable({ providedIn: 'root' })
export class UpstreamsApi {
  private readonly http = inject(HttpClient);

  list(): Observable<UpstreamView[]> {
    return this.http.get<UpstreamView[]>(BASE, inline());
  }

  create(request: CreateUpstreamRequest): Observable<UpstreamView> {
    return this.http.post<UpstreamView>(BASE, request, inline());
  }

  update(id: number, request: UpdateUpstreamRequest): Observable<UpstreamView> {
    return this.http.patch<UpstreamView>(`${BASE}/${id}`, request, inline());
  }

  /** Enable and disable are row actions: their errors go to the snackbar. */
  setEnabled(id: number, enabled: boolean): Observable<UpstreamView> {
    return this.http.patch<UpstreamView>(`${BASE}/${id}`, { enabled });
  }

  delete(id: number): Observable<void> {
    return this.http.delete<void>(`${BASE}/${id}`);
  }
}
