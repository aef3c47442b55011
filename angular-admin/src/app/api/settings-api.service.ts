import { HttpClient, HttpContext } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { INLINE_ERRORS } from '../core/admin.interceptor';
import type { Settings, UpdateSettingsRequest, UpdateSettingsResponse } from './admin-api.types';

@Injectable({ providedIn: 'root' })
export class SettingsApi {
  private readonly http = inject(HttpClient);

  get(): Observable<Settings> {
    return this.http.get<Settings>('/api/settings');
  }

  /** Also answers whether Ollama answers at the (new) URL; the settings form shows the outcome inline. */
  update(request: UpdateSettingsRequest): Observable<UpdateSettingsResponse> {
    return this.http.put<UpdateSettingsResponse>('/api/settings', request, { context: new HttpContext().set(INLINE_ERRORS, true) });
  }
}
