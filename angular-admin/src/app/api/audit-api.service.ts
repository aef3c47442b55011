import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import type { AuditEntry } from './admin-api.types';

@Injectable({ providedIn: 'root' })
export class AuditApi {
  private readonly http = inject(HttpClient);

  /** Newest first; `beforeId` pages back from the oldest entry already shown. */
  list(limit: number, beforeId?: number): Observable<AuditEntry[]> {
    let params = new HttpParams().set('limit', String(limit));
    if (beforeId !== undefined) params = params.set('before_id', String(beforeId));
    return this.http.get<AuditEntry[]>('/api/audit', { params });
  }
}
