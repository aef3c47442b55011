import { HttpClient, HttpContext, HttpParams } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { INLINE_ERRORS } from '../core/admin.interceptor';
import type { AlertDeliveryView, AlertWebhookView, CreateAlertWebhookRequest, UpdateAlertWebhookRequest } from './admin-api.types';

const BASE = '/api/alerts';

/** The page shows these errors beside the form or the row they belong to. */
const inline = () => ({ context: new HttpContext().set(INLINE_ERRORS, true) });

/** Alert webhooks and their deliveries. A webhook's secret goes out, never comes back (`has_secret`). */
@Injectable({ providedIn: 'root' })
export class AlertsApi {
  private readonly http = inject(HttpClient);

  webhooks(): Observable<AlertWebhookView[]> {
    return this.http.get<AlertWebhookView[]>(`${BASE}/webhooks`);
  }

  create(request: CreateAlertWebhookRequest): Observable<AlertWebhookView> {
    return this.http.post<AlertWebhookView>(`${BASE}/webhooks`, request, inline());
  }

  update(id: number, request: UpdateAlertWebhookRequest): Observable<AlertWebhookView> {
    return this.http.patch<AlertWebhookView>(`${BASE}/webhooks/${id}`, request, inline());
  }

  delete(id: number): Observable<void> {
    return this.http.delete<void>(`${BASE}/webhooks/${id}`, inline());
  }

  /** Queues a test delivery (202): its outcome shows in the deliveries. */
  test(id: number): Observable<AlertDeliveryView> {
    return this.http.post<AlertDeliveryView>(`${BASE}/webhooks/${id}/test`, {}, inline());
  }

  deliveries(limit = 50): Observable<AlertDeliveryView[]> {
    return this.http.get<AlertDeliveryView[]>(`${BASE}/deliveries`, { params: new HttpParams().set('limit', limit) });
  }
}
