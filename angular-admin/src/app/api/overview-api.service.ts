import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import type { Overview } from './admin-api.types';

@Injectable({ providedIn: 'root' })
export class OverviewApi {
  private readonly http = inject(HttpClient);

  get(): Observable<Overview> {
    return this.http.get<Overview>('/api/overview');
  }
}
