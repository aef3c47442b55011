import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import type { ProxyInfo } from './admin-api.types';

@Injectable({ providedIn: 'root' })
export class ProxyInfoApi {
  private readonly http = inject(HttpClient);

  get(): Observable<ProxyInfo> {
    return this.http.get<ProxyInfo>('/api/proxy-info');
  }
}
