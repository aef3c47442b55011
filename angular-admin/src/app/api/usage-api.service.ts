import { HttpClient, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { map, type Observable } from 'rxjs';
import type { UsageQuery, UsageResponse } from './admin-api.types';

export interface CsvFile {
  filename: string;
  blob: Blob;
}

@Injectable({ providedIn: 'root' })
export class UsageApi {
  private readonly http = inject(HttpClient);

  get(query: UsageQuery): Observable<UsageResponse> {
    return this.http.get<UsageResponse>('/api/usage', { params: paramsOf(query) });
  }

  /** Fetched with the session token (a plain link could not send it), to be saved by the page. */
  csv(query: UsageQuery): Observable<CsvFile> {
    return this.http.get('/api/usage.csv', { params: paramsOf(query), responseType: 'blob', observe: 'response' }).pipe(
      map((response) => ({
        blob: response.body ?? new Blob([], { type: 'text/csv' }),
        filename: filenameOf(response.headers.get('Content-Disposition')) ?? `usage-${query.from ?? 'last-30-days'}-${query.to ?? 'today'}.csv`,
      })),
    );
  }
}

function paramsOf(query: UsageQuery): HttpParams {
  let params = new HttpParams();
  if (query.from) params = params.set('from', query.from);
  if (query.to) params = params.set('to', query.to);
  params = params.set('granularity', query.granularity);
  if (query.key_id !== undefined && query.key_id !== null) params = params.set('key_id', String(query.key_id));
  if (query.model) params = params.set('model', query.model);
  return params;
}

function filenameOf(disposition: string | null): string | null {
  const match = disposition?.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i);
  return match ? decodeURIComponent(match[1]) : null;
}
